"""`python server_ctl.py PORT start|stop|status`: the tests' systemctl for the server in conftest.py."""
import socket
import sys


def main() -> int:
    port, verb = int(sys.argv[1]), sys.argv[2]
    with socket.create_connection(("127.0.0.1", port), timeout=300) as sock:
        sock.sendall((verb + "\n").encode())
        reply = sock.makefile().readline().strip()
    print(reply)
    return 0 if reply == "ok" or reply.startswith("{") else 1


if __name__ == "__main__":
    sys.exit(main())
