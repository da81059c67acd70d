"""The STAND-IN provider of the engine tests (tests/support/engine/standin_provider.py), through its own gRPC
methods: what replaces, what updates in place, and that its outputs are the plan mocks' (so mocks and engine agree)."""
from __future__ import annotations

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import provider_pb2

from components.program.recording import RecordingMocks
from tests.support.engine.standin_provider import StandInProvider

URN = "urn:pulumi:dev::neo4j-cluster::neo4j-cluster:aws:Neo4jServers$aws:ec2/instance:Instance::cluster-core-1"
PROVIDER = StandInProvider("aws", "7.51.1", RecordingMocks())


def struct(value: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def diff(olds: dict, news: dict) -> provider_pb2.DiffResponse:
    return PROVIDER.Diff(provider_pb2.DiffRequest(urn=URN, id="i-1", olds=struct(olds), news=struct(news),
                                                  old_inputs=struct(olds)), None)


def test_an_instance_is_replaced_for_a_new_ami_and_updated_in_place_for_a_new_type():
    old = {"ami": "ami-1", "instanceType": "t3.large", "userDataBase64": "a", "userDataReplaceOnChange": True}
    assert list(diff(old, {**old, "ami": "ami-2"}).replaces) == ["ami"]
    resize = diff(old, {**old, "instanceType": "t3.xlarge"})
    assert resize.changes == provider_pb2.DiffResponse.DIFF_SOME and not resize.replaces
    assert diff(old, dict(old)).changes == provider_pb2.DiffResponse.DIFF_NONE


def test_new_user_data_replaces_only_with_user_data_replace_on_change():
    old = {"ami": "ami-1", "userDataBase64": "a", "userDataReplaceOnChange": True}
    assert list(diff(old, {**old, "userDataBase64": "b"}).replaces) == ["userDataBase64"]
    old["userDataReplaceOnChange"] = False
    assert not diff(old, {**old, "userDataBase64": "b"}).replaces


def test_create_answers_with_the_plan_mocks_outputs():
    created = PROVIDER.Create(provider_pb2.CreateRequest(urn=URN, properties=struct({"ami": "ami-1"})), None)
    state = json_format.MessageToDict(created.properties)
    mocked_id, mocked = RecordingMocks().new_resource(
        pulumi.runtime.MockResourceArgs("aws:ec2/instance:Instance", "cluster-core-1", {"ami": "ami-1"}))
    assert created.id == mocked_id and state == mocked
