"""The boot rehearsal (issue 23): the user data the Pulumi program renders, booted by cloud-init under systemd in a
machine container, with only what surrounds the machine standing in for AWS. Each module holds one idea:

- dockerd.py      a private dockerd of the test session (vfs storage, no iptables, no bridge), its own sockets
- base_image.py   the Debian bookworm root (debootstrap, then apt in the chroot), cached, `docker import`ed
- user_data.py    the rendered user data of a stack's server, and the NoCloud seed that carries it
- machine.py      the machine container: systemd as PID 1, its own network namespace holding only lo
- volume.py       the data volume stand-in: a loop device under the /dev/disk/by-id name the boot waits for
- imds_standin.py the IMDSv2 stand-in at 169.254.169.254 (tags, the instance role's credentials), inside the
                  machine's network namespace only
- surroundings.py what surrounds one machine: the CA, secrets' values, /etc/hosts entries, the stand-ins to start
- rehearsal_ca.py the rehearsal CA (in the machine's trust store) and the certificates it signs
- aws_standin.py  moto over TLS on 443 (Secrets Manager, S3) under the regional AWS names, seeded from the plan,
                  enforcing the machine's instance role (the plan's role policies, assumed for the instance)
- neo4j_deb_standin.py  the `neo4j` package stand-in built from the Maven Central distribution
- apt_standin.py  a private mirror of Neo4j's apt repository (signed, its own key) as the stack's neo4j:aptRepositoryUrl
- pypi_standin.py the wheels of the boot's pip install, served as pypi.org and files.pythonhosted.org
- static_https.py the HTTPS file server of the apt and PyPI stand-ins
- haproxy_node.py the HAProxy node in front of the server: its machine, the veth link between the two
                  namespaces, its boot report and a Bolt session through it
- dns_standin.py  the VPC DNS stand-in (the private zone's A records), the HAProxy node's nameserver
- boot_report.py  what the boot did: cloud-init's status, our boot units' journal, the boot-status file
- rehearse.py     `make rehearse`: all of the above, printed
"""
