"""A STAND-IN for the Python language host (pulumi-language-python), for the commands that select a stack by its
directory (`auto.select_stack(name, work_dir=…)`: make rollout, make scale --up), as a user's machine runs them.

This machine cannot build the real host (its source is a Go module of its own that the Go module proxy here does
not serve), so the CLI attaches to this one instead: PULUMI_DEBUG_LANGUAGES=python:<port> ("PULUMI_DEBUG_LANGUAGES=
go:12345,dotnet:678 will result in 12345 for go and 678 for dotnet", sdk/go/common/resource/plugin/
langruntime_plugin.go, v3.276.0). It is the Automation API's own inline host (pulumi/automation/_server.py
LanguageServer, what the other engine tests run the program through) answering the attach handshake, and running
the project's __main__.py in this process. The engine, the stack, its config and state are the real ones.
"""
from __future__ import annotations

from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass

import grpc
from google.protobuf import empty_pb2
from pulumi.automation._server import LanguageServer
from pulumi.runtime.proto import language_pb2, language_pb2_grpc


class StandInLanguageHost(LanguageServer):
    def Handshake(self, request, context):  # noqa: N802  the engine's first call when it attaches
        return language_pb2.LanguageHandshakeResponse()

    def Cancel(self, request, context):  # noqa: N802  the engine's last call: nothing runs on after the program
        return empty_pb2.Empty()


@dataclass
class RunningLanguageHost:
    server: grpc.Server
    port: int

    @property
    def debug_languages(self) -> str:
        """PULUMI_DEBUG_LANGUAGES for the engine."""
        return f"python:{self.port}"

    def stop(self) -> None:
        self.server.stop(grace=None)


def serve_language_host(program: Callable[[], None]) -> RunningLanguageHost:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         options=[("grpc.max_receive_message_length", 400 * 1024 * 1024),
                                  ("grpc.max_send_message_length", 400 * 1024 * 1024)])
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(StandInLanguageHost(program), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return RunningLanguageHost(server, port)
