"""Storage faults for the integration tests (storage_annunciate.py,
auth_storage.py): a filler that takes every free block of a small disk, and
another process holding the database's write lock."""
import subprocess
import time

from harness import _children


def fill(path, filling):
    with open(path, "wb") as f:
        while filling.is_set():
            try:
                f.write(b"\0" * 4096)
                f.flush()
            except OSError:
                time.sleep(0.01)


class Locker:
    """Another process holding the database's write lock (BEGIN EXCLUSIVE)."""

    def __init__(self, db):
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", "-c",
             "import sqlite3, sys\n"
             "con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n"
             "con.execute('BEGIN EXCLUSIVE')\n"
             "print('locked', flush=True)\n"
             "sys.stdin.readline()\n"
             "con.execute('COMMIT')\n", db],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        _children.append(self.proc)
        self.proc.stdout.readline()

    def release(self):
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        self.proc.wait(30)
