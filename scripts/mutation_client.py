"""Ask the fork server of scripts/mutation_order.py to run the current mutant's tests; exit with their
exit code. Started by cosmic-ray once per mutant, so it imports nothing but the socket module (run it
with `python -I -S`)."""

import socket
import sys

with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
    connection.connect(sys.argv[1])
    connection.sendall(b"r")
    answer = connection.recv(1)
sys.exit(answer[0] if answer else 3)
