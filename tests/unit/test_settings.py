import pytest

from components.settings import KEYS, ConfigError, load_settings, version_line
from tests.conftest import BASE, ROOT, make_settings, stack_config


def problems_of(**overrides) -> list[str]:
    with pytest.raises(ConfigError) as error:
        make_settings(**overrides)
    return error.value.problems


def test_defaults_follow_the_operations_guide():
    settings = make_settings()
    assert settings.tx_log_retention == "2 days 2G"  # the shipped conf's size cap too
    assert settings.tx_log_rotation_size == "256M"
    assert settings.slow_query_threshold == "1s"
    assert settings.gc_max_pause_millis == 200
    assert settings.auth_enabled is True
    assert settings.backup_schedule.startswith("*-*-* 02:00:00")
    assert settings.backup_retention_days == 30


@pytest.mark.parametrize("stack, platform, cores, replicas, tls", [
    ("dev", "aws", 3, 1, "required"),  # the default: only the local stack may set optional
    ("prod", "aws", 5, 2, "required"),
    ("local", "docker", 3, 1, "optional"),
])
def test_each_stack_file_is_valid_and_has_its_shape(stack, platform, cores, replicas, tls):
    settings = load_settings(stack, stack_config(stack))
    assert (settings.platform, settings.core_count, settings.replica_count, settings.tls) == \
        (platform, cores, replicas, tls)


def test_only_the_local_stack_file_relaxes_tls_and_says_why():
    # Issue 26, item 5: neo4j:tls defaults to required; the local (Docker, laptop) stack may set optional and says
    # so in a comment above the key; no AWS stack file names the key.
    for stack in ("dev", "prod"):
        assert "neo4j:tls" not in stack_config(stack), stack
    assert stack_config("local")["neo4j:tls"] == "optional"
    lines = (ROOT / "Pulumi.local.yaml").read_text().splitlines()
    key = next(i for i, line in enumerate(lines) if line.strip().startswith("neo4j:tls:"))
    assert lines[key - 1].strip().startswith("#") and "TLS" in lines[key - 1]


def test_prod_spreads_over_three_zones_on_memory_optimised_instances():
    settings = load_settings("prod", stack_config("prod"))
    assert len(settings.availability_zones) == 3
    assert settings.core_instance_type.startswith("r") and settings.replica_instance_type.startswith("r")


def test_stack_files_hold_no_plain_secret():
    for stack in ("dev", "prod", "local"):
        config = stack_config(stack)
        for key in KEYS:
            value = config.get(f"neo4j:{key.name}")
            assert not key.secret or value is None or set(value) == {"secure"}, (stack, key.name)


@pytest.mark.parametrize("cores", [2, 4, 6])
def test_even_core_count_is_refused_with_key_name(cores):
    [problem] = problems_of(coreCount=cores)
    assert problem.startswith("neo4j:coreCount: got ")
    assert "odd" in problem


def test_more_than_eleven_cores_is_refused_with_the_allowed_range():
    [problem] = problems_of(coreCount=13)
    assert "neo4j:coreCount" in problem and "1 to 11" in problem


def test_single_server_is_allowed():
    assert make_settings(coreCount=1, replicaCount=0).clustered is False


def test_clustered_community_edition_is_refused():
    [problem] = problems_of(edition="community")
    assert problem.startswith("neo4j:edition:") and "coreCount=1 and replicaCount=0" in problem


def test_community_single_server_needs_no_licence():
    settings = load_settings("x", {"neo4j:edition": "community", "neo4j:coreCount": 1})
    assert settings.edition == "community" and not settings.clustered


def test_enterprise_without_licence_acceptance_is_refused():
    config = {k: v for k, v in BASE.items() if k != "neo4j:acceptLicense"}
    with pytest.raises(ConfigError) as error:
        load_settings("x", config)
    assert error.value.problems == [
        "neo4j:acceptLicense: got false with edition 'enterprise'; allowed: true (you accept the Neo4j licence), "
        "or set neo4j:edition to community"]


def test_heap_and_page_cache_larger_than_the_machine_are_refused():
    [problem] = problems_of(coreInstanceType="r6i.large", heapSize="12g", pageCacheSize="8g")
    assert problem.startswith("neo4j:heapSize/neo4j:pageCacheSize:")
    assert "on the core instance type r6i.large (16g of RAM)" in problem


def test_heap_override_that_leaves_no_page_cache_is_refused():
    [problem] = problems_of(coreInstanceType="t3.large", heapSize="7g")
    assert "neo4j:heapSize" in problem


# m6i.xlarge has 16 GiB; neo4j-admin keeps 4g of it for the OS, so heap + page cache may take 12g.
def test_heap_and_page_cache_that_exactly_fill_ram_less_the_os_reserve_are_accepted():
    settings = make_settings(coreInstanceType="m6i.xlarge", replicaCount=0, heapSize="4g", pageCacheSize="8g")
    assert (settings.heap_size, settings.page_cache_size) == (4 * 1024 ** 3, 8 * 1024 ** 3)


@pytest.mark.parametrize("page_cache", ["8193m", str(8 * 1024 ** 3 + 1)])  # 1 MiB, 1 byte over
def test_heap_and_page_cache_one_unit_over_ram_less_the_os_reserve_are_refused(page_cache):
    [problem] = problems_of(coreInstanceType="m6i.xlarge", replicaCount=0, heapSize="4g", pageCacheSize=page_cache)
    assert problem.startswith("neo4j:heapSize/neo4j:pageCacheSize:") and "at most 12g" in problem


def test_neo4j_admins_own_recommendation_is_accepted_as_printed():
    from components.sizing import MIB, recommend_memory

    # On 8 GiB it prints heap 3600m + page cache 2g with a 2600m reserve: 56 MiB past RAM less the reserve,
    # from rounding to 100 MiB. The dev stack (t3.large, no override) runs that recommendation.
    plan = recommend_memory(8 * 1024 ** 3)
    assert plan.heap + plan.page_cache - (plan.ram - plan.os_reserve) == 56 * MIB
    assert make_settings(coreInstanceType="t3.large", replicaCount=0).heap_size is None


def test_heap_and_page_cache_that_leave_the_os_nothing_are_refused_in_one_line_naming_the_maximum():
    [problem] = problems_of(coreInstanceType="m6i.xlarge", replicaCount=0, heapSize="8g", pageCacheSize="8g")
    assert problem == ("neo4j:heapSize/neo4j:pageCacheSize: got heap 8g + page cache 8g = 16g on the core "
                       "instance type m6i.xlarge (16g of RAM); allowed: at most 12g together (the RAM less the "
                       "4g the OS keeps)")


@pytest.mark.parametrize("key, value", [
    ("vpcCidr", "10.0.0.1/16"), ("vpcCidr", "10.0.0.0/33"), ("vpcCidr", "not-a-cidr"),
    ("clientCidrs", ["203.0.113.0/24", "300.1.1.0/24"]), ("adminCidrs", "10.0.0.5/8"),
])
def test_malformed_cidrs_are_refused_naming_the_key(key, value):
    [problem] = problems_of(**{key: value})
    assert problem.startswith(f"neo4j:{key}: got ")
    assert "CIDR" in problem


def test_unknown_key_suggests_the_closest_known_key():
    [problem] = problems_of(coreCont=3)
    assert problem == "neo4j:coreCont: unknown key; did you mean neo4j:coreCount?"


def test_misspelt_namespace_is_reported():
    with pytest.raises(ConfigError) as error:
        load_settings("x", {**BASE, "neo4k:coreCount": 5})
    assert error.value.problems == ["neo4k:coreCount: unknown namespace 'neo4k'; did you mean neo4j:coreCount?"]


def test_every_problem_is_reported_at_once_one_line_each():
    problems = problems_of(coreCount=4, edition="community", vpcCidr="10.0.0.1/16")
    assert len(problems) == 3
    assert [p.split(":")[1] for p in problems] == ["vpcCidr", "coreCount", "edition"]
    assert all("\n" not in p and "allowed" in p for p in problems)


def test_plain_text_secret_in_a_stack_file_is_refused():
    [problem] = problems_of(adminPassword="hunter2")
    assert problem.startswith("neo4j:adminPassword: stored in plain text")


def test_secrets_from_the_engine_are_accepted_and_never_kept():
    settings = load_settings("x", {**BASE, "neo4j:adminPassword": "hunter2"}, decrypted=True)
    assert settings.secrets_set == {"adminPassword"}
    assert "hunter2" not in repr(settings)


def test_engine_config_values_arrive_as_text_and_parse():
    settings = load_settings("x", {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in BASE.items()}
                             | {"neo4j:availabilityZones": '["eu-west-1a", "eu-west-1b"]',
                                "neo4j:users": '[{"name": "analyst", "roles": ["reader"]}]'})
    assert settings.core_count == 3 and settings.availability_zones == ("eu-west-1a", "eu-west-1b")
    assert settings.users[0].roles == ("reader",)


@pytest.mark.parametrize("version, line", [
    ("4.4.40", "4.4"), ("5.26.30", "5"), ("2025.01.0", "2025"), ("2026.08.1", "2025")])
def test_version_selects_its_config_dialect(version, line):
    assert version_line(version) == line
    assert make_settings(version=version).version_line == line


@pytest.mark.parametrize("version", ["5.1.0", "4.3.9", "3.5.1", "2024.01.0", "5.26"])
def test_unsupported_versions_are_refused(version):
    [problem] = problems_of(version=version)
    assert problem.startswith("neo4j:version: got ")


def test_user_with_an_undefined_role_is_refused():
    [problem] = problems_of(users=[{"name": "bob", "roles": ["wizard"]}])
    assert "user 'bob' has unknown role(s) wizard" in problem


def test_custom_roles_are_accepted_for_their_users():
    settings = make_settings(roles=[{"name": "data_scientist", "privileges": ["MATCH {*} ON GRAPH neo4j"]}],
                             users=[{"name": "ds", "roles": ["data_scientist"]}])
    assert settings.roles[0].privileges == ("MATCH {*} ON GRAPH neo4j",)


def test_transition_must_come_before_expiry():
    [problem] = problems_of(backupTransitionDays=30, backupRetentionDays=30)
    assert problem.startswith("neo4j:backupTransitionDays:")


def test_unknown_instance_type_suggests_close_ones():
    [problem] = problems_of(coreInstanceType="r6i.xlarg")
    assert "neo4j:coreInstanceType" in problem and "r6i.xlarge" in problem


def test_zones_outside_the_region_are_refused():
    [problem] = problems_of(availabilityZones=["eu-west-1a", "us-east-1b"])
    assert problem.startswith("neo4j:availabilityZones: got us-east-1b")


def test_infrequent_access_transition_needs_30_days():
    [problem] = problems_of(backupTransitionDays=7, backupTransitionStorageClass="STANDARD_IA",
                            backupRetentionDays=90)
    assert problem.startswith("neo4j:backupTransitionDays: got 7 with STANDARD_IA")
    assert make_settings(backupTransitionDays=30, backupTransitionStorageClass="STANDARD_IA",
                         backupRetentionDays=90).backup_transition_days == 30


def test_backup_replica_must_be_in_another_region():
    [problem] = problems_of(backupReplicaRegion="eu-west-1")
    assert problem.startswith("neo4j:backupReplicaRegion: got 'eu-west-1'")
    assert make_settings(backupReplicaRegion="eu-central-1").backup_replica_region == "eu-central-1"


# --- world-wide ranges -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["clientCidrs", "adminCidrs"])
@pytest.mark.parametrize("world", ["0.0.0.0/0", "::/0"])
def test_the_whole_internet_is_refused_without_the_opt_in(key, world):
    [problem] = problems_of(**{key: ["10.0.0.0/8", world]})
    assert problem.startswith(f"neo4j:{key}: got '{world}', the whole internet; allowed: ")
    assert "neo4j:allowWorldAccess: true" in problem
    assert "10.0.0.0/8" not in problem


@pytest.mark.parametrize("world", ["0.0.0.0/0", "::/0"])
def test_the_whole_internet_is_allowed_when_the_stack_says_so(world):
    settings = make_settings(clientCidrs=[world], adminCidrs=[world], allowWorldAccess=True)
    assert settings.client_cidrs == (world,) and settings.admin_cidrs == (world,)


def test_both_keys_are_reported_each_on_its_own_line():
    problems = problems_of(clientCidrs="0.0.0.0/0", adminCidrs=["::/0"])
    assert [p.split(":")[1] for p in problems] == ["clientCidrs", "adminCidrs"]


@pytest.mark.parametrize("cidr", ["0.0.0.0/1", "128.0.0.0/1", "8000::/1", "203.0.113.0/24"])
def test_ranges_narrower_than_the_internet_need_no_opt_in(cidr):
    assert make_settings(clientCidrs=[cidr]).client_cidrs == (cidr,)


def test_ipv6_client_and_admin_ranges_are_accepted_and_normalised():
    settings = make_settings(clientCidrs=["2001:DB8::/32"], adminCidrs="2001:db8:1::/48, 198.51.100.0/24")
    assert settings.client_cidrs == ("2001:db8::/32",)
    assert settings.admin_cidrs == ("2001:db8:1::/48", "198.51.100.0/24")


def test_the_vpc_range_must_be_ipv4():
    [problem] = problems_of(vpcCidr="fd00::/16")
    assert problem == ("neo4j:vpcCidr: got 'fd00::/16'; allowed: an IPv4 CIDR with its host bits zero, "
                       "such as 10.42.0.0/16")


# --- 4.4 cluster formation -----------------------------------------------------------------------------


def test_a_44_cluster_of_one_core_with_replicas_is_refused():
    [problem] = problems_of(version="4.4.40", coreCount=1, replicaCount=2)
    assert problem.startswith("neo4j:coreCount: got 1 with replicaCount=2 on neo4j:version 4.4.40; allowed on 4.4: ")
    assert "3 or more cores" in problem and "replicaCount 0" in problem
    assert "causal_clustering.minimum_core_cluster_size_at_formation" in problem


def test_a_44_single_server_and_a_44_cluster_of_three_are_allowed():
    assert make_settings(version="4.4.40", coreCount=1, replicaCount=0).clustered is False
    assert make_settings(version="4.4.40", coreCount=3, replicaCount=2).replica_count == 2


@pytest.mark.parametrize("version", ["5.26.30", "2025.01.0"])
def test_one_primary_with_secondaries_is_allowed_after_44(version):
    settings = make_settings(version=version, coreCount=1, replicaCount=2)
    assert (settings.core_count, settings.replica_count) == (1, 2)


def test_the_44_formation_minimum_quoted_is_the_vendored_default():
    # The setting the check relies on exists in the 4.4 settings list, defaulting to a cluster of 3.
    import json

    from tests.support.neo4j_settings import SETTINGS_DIR

    settings = json.loads((SETTINGS_DIR / "4.4.json").read_text())["settings"]
    assert settings["causal_clustering.minimum_core_cluster_size_at_formation"]["default"] == "3"


# --- S3 minimum storage durations ---------------------------------------------------------------------


@pytest.mark.parametrize("storage_class, minimum, transition", [
    ("GLACIER_IR", 90, 7), ("GLACIER", 90, 7), ("DEEP_ARCHIVE", 180, 7), ("STANDARD_IA", 30, 30),
    ("ONEZONE_IA", 30, 30)])
def test_a_colder_class_must_keep_backups_its_minimum_before_they_expire(storage_class, minimum, transition):
    [problem] = problems_of(backupTransitionStorageClass=storage_class, backupTransitionDays=transition,
                            backupRetentionDays=transition + minimum - 1)
    assert problem.startswith(f"neo4j:backupTransitionStorageClass: got '{storage_class}' with "
                              f"neo4j:backupTransitionDays={transition} and "
                              f"neo4j:backupRetentionDays={transition + minimum - 1}: ")
    assert f"{minimum - 1} days in {storage_class}, which S3 bills for at least {minimum} days" in problem
    assert f"neo4j:backupRetentionDays {transition + minimum} or more" in problem
    assert "neo4j:backupTransitionDays 0 (no transition)" in problem
    settings = make_settings(backupTransitionStorageClass=storage_class, backupTransitionDays=transition,
                             backupRetentionDays=transition + minimum)
    assert settings.backup_retention_days - settings.backup_transition_days == minimum


def test_the_refusal_names_a_transition_day_and_the_classes_that_would_fit():
    [problem] = problems_of(backupTransitionStorageClass="DEEP_ARCHIVE", backupTransitionDays=30,
                            backupRetentionDays=200)
    assert "neo4j:backupTransitionDays 20 or fewer" in problem
    assert problem.endswith("another neo4j:backupTransitionStorageClass (STANDARD_IA, ONEZONE_IA, "
                            "INTELLIGENT_TIERING, GLACIER_IR, GLACIER)")


def test_intelligent_tiering_has_no_minimum_storage_duration():
    settings = make_settings(backupTransitionStorageClass="INTELLIGENT_TIERING", backupTransitionDays=1,
                             backupRetentionDays=2)
    assert settings.backup_transition_storage_class == "INTELLIGENT_TIERING"


def test_a_transition_at_or_after_expiry_is_reported_once():
    [problem] = problems_of(backupTransitionDays=40, backupRetentionDays=30, backupTransitionStorageClass="GLACIER")
    assert problem.startswith("neo4j:backupTransitionDays: got 40; allowed: fewer days than")


def test_the_defaults_alone_satisfy_every_rule():
    settings = load_settings("x", {"neo4j:acceptLicense": True})
    assert (settings.backup_retention_days, settings.backup_transition_days) == (30, 0)
    assert settings.allow_world_access is False


# --- any value, never a traceback ----------------------------------------------------------------------


ODD_VALUES = [None, "", " ", 0, -1, 1.5, True, [], {}, [None], [{}], {"a": 1}, "[", "{", '{"a": 1}', "x" * 300,
              float("nan"), 10 ** 30, "\n", {"secure": "v1:abc"}, [[]], [{"name": "a", "roles": "reader"}], "::/0"]


@pytest.mark.parametrize("platform", ["aws", "docker"])
@pytest.mark.parametrize("key", [key.name for key in KEYS])
def test_any_value_of_any_key_is_accepted_or_refused_by_name(key, platform):
    # Whatever a stack file holds, the answer is Settings or ConfigError lines naming the key: no TypeError.
    for value in ODD_VALUES:
        config = {**BASE, "neo4j:platform": platform, f"neo4j:{key}": value}
        try:
            load_settings("x", config)
        except ConfigError as error:
            assert all("\n" not in problem for problem in error.problems), (key, value)
            assert any(f"neo4j:{key}" in problem.split(" ", 1)[0] for problem in error.problems), (key, value)


def test_a_key_left_empty_is_refused_naming_it_and_its_default():
    [problem] = problems_of(coreCount=None)
    assert problem == ("neo4j:coreCount: got no value; allowed: 1 (single server), or an odd number from 3 to 11, "
                       "or leave the key out for the default (3)")


def test_an_empty_list_or_text_key_means_its_default():
    settings = make_settings(users=None, clientCidrs=None, amiId=None, heapSize="")
    assert (settings.users, settings.client_cidrs, settings.ami_id, settings.heap_size) == ((), (), "", None)


def test_bolt_tls_is_required_by_default_and_prod_relies_on_the_default():
    # Issue 26: secure by default. A stack that offers less (local: optional) says so in its file.
    (tls,) = [key for key in KEYS if key.name == "tls"]
    assert tls.default == "required"
    assert "neo4j:tls" not in stack_config("prod") and load_settings("prod", stack_config("prod")).tls == "required"


# --- no authentication ------------------------------------------------------------------------------


def test_authentication_off_is_refused_without_the_opt_in():
    [problem] = problems_of(authEnabled=False)
    assert problem.startswith("neo4j:authEnabled: got false, ")
    assert "neo4j:allowNoAuthentication: true" in problem


@pytest.mark.parametrize("platform", ["aws", "docker"])
def test_authentication_off_is_allowed_when_the_stack_says_so(platform):
    settings = make_settings(platform=platform, authEnabled="false", allowNoAuthentication="true")
    assert settings.auth_enabled is False and settings.allow_no_authentication is True


def test_the_opt_in_alone_changes_nothing():
    assert make_settings(allowNoAuthentication=True).auth_enabled is True


def test_the_opt_in_takes_only_a_boolean():
    [problem] = problems_of(allowNoAuthentication="yes")
    assert problem == "neo4j:allowNoAuthentication: got 'yes'; allowed: true or false"


# --- secrets' recovery window -----------------------------------------------------------------------


@pytest.mark.parametrize("days", [0, 6, 31, "week"])
def test_a_secret_recovery_window_outside_what_secrets_manager_allows_is_refused(days):
    [problem] = problems_of(secretRecoveryWindowDays=days)
    assert problem.startswith("neo4j:secretRecoveryWindowDays: got ")
    assert problem.endswith("; allowed: a whole number from 7 to 30")


def test_secrets_keep_secrets_managers_default_window_unless_the_stack_says_otherwise():
    assert make_settings().secret_recovery_window_days == 30
    assert make_settings(secretRecoveryWindowDays="7").secret_recovery_window_days == 7


@pytest.mark.parametrize("name", ["neo4j", "backup_job", "cert_renewal", "topology_join"])
def test_users_the_stack_creates_itself_are_refused_in_neo4j_users(name):
    # make security would give them neo4j:userPasswords' password and only the configured roles: the admin would
    # lose its role, a job user its password and role (components/reserved_names.py).
    [problem] = problems_of(users=[{"name": name, "roles": []}], edition="enterprise")
    assert problem.startswith(f"neo4j:users: got the user name(s) {name} the stack creates itself")
    assert "reserved: neo4j, cert_renewal, topology_join, backup_job" in problem


@pytest.mark.parametrize("name", ["backup_job", "cert_renewal", "topology_join"])
def test_the_job_users_roles_are_refused_in_neo4j_roles(name):
    [problem] = problems_of(roles=[{"name": name, "privileges": ["MATCH {*} ON GRAPH neo4j"]}],
                            edition="enterprise")
    assert problem.startswith(f"neo4j:roles: got the role name(s) {name} of the stack's job users")


def test_names_beside_the_reserved_ones_are_accepted():
    settings = make_settings(roles=[{"name": "backup_reader", "privileges": ["MATCH {*} ON GRAPH neo4j"]}],
                             users=[{"name": "neo4j_app", "roles": ["backup_reader"]}], edition="enterprise")
    assert [u.name for u in settings.users] == ["neo4j_app"]


def test_the_reserved_names_are_those_job_users_creates():
    from components.job_users import job_users
    from components.reserved_names import JOB_USER_NAMES
    from tests.support.job_user_stacks import stack

    # A stack with TLS and secondaries on 5.x runs every job that has a user of its own.
    assert {user.name for user in job_users(*stack("5"))} == set(JOB_USER_NAMES)
