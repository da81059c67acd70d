"""The boot rehearsal (issue 23): the user data the Pulumi program renders, booted by cloud-init under systemd in a
machine container, with only what surrounds the machine standing in for AWS. Each module holds one idea:

- dockerd.py      a private dockerd of the test session (vfs storage, no iptables, no bridge), its own sockets
- base_image.py   the Debian bookworm root (debootstrap, then apt in the chroot), cached, `docker import`ed
- user_data.py    the rendered user data of a stack's server, and the NoCloud seed that carries it
- machine.py      the machine container: systemd as PID 1, its own network namespace holding only lo
- volume.py       the data volume stand-in: a loop device under the /dev/disk/by-id name the boot waits for
- imds_standin.py the IMDSv2 stand-in at 169.254.169.254, inside the machine's network namespace only
- boot_report.py  what the boot did: cloud-init's status, our boot units' journal, the boot-status file
- rehearse.py     `make rehearse`: all of the above, printed
"""
