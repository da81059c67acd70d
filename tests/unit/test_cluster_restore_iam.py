"""restore.py --cluster needs every Neo4j server to read the backups it seeds from: read-only IAM."""
from components.aws.machine import BucketAccess, MachineArgs, _access_statements

SEEDS = BucketAccess(bucket_arn="arn:aws:s3:::acme-neo4j-backups", objects_arn="arn:aws:s3:::acme-neo4j-backups/prod/*",
                     tooling_arn="arn:aws:s3:::acme-neo4j-backups/tooling/ops.tar.gz")


def args(**extra) -> MachineArgs:
    return MachineArgs(host="core-2", hostname="core-2.prod.neo4j.internal", instance_type="r6i.large",
                       user_data="#cloud-config\n", subnet_id="subnet-1", security_group_id="sg-1", root_volume_gb=20,
                       **extra)


def test_a_seeding_server_may_list_and_read_the_stacks_backups_and_nothing_else():
    statements = [s for s in _access_statements(args(seeds_from=SEEDS)) if s["Sid"] in ("ListSeeds", "ReadSeeds")]
    assert statements == [
        {"Sid": "ListSeeds", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": SEEDS.bucket_arn},
        {"Sid": "ReadSeeds", "Effect": "Allow", "Action": "s3:GetObject", "Resource": SEEDS.objects_arn},
    ]
    actions = {a for s in _access_statements(args(seeds_from=SEEDS)) for a in [s["Action"]] if isinstance(a, str)}
    assert not {"s3:PutObject", "s3:DeleteObject"} & actions


def test_no_seed_access_unless_asked():
    assert not [s for s in _access_statements(args()) if s["Sid"] in ("ListSeeds", "ReadSeeds")]
