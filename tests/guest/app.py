"""A CPython guest for run's sandbox tests (componentize-py): what it does is chosen by its arguments.

``exit N``, ``raise``, ``env NAME…``, ``read PATH``, ``write PATH TEXT``, ``stdin``, ``loop``, ``alloc BYTES``.
"""

import os
import sys

import wit_world


class WitWorld(wit_world.WitWorld):
    def run(self) -> str:
        args = sys.argv[1:]
        command = args[0] if args else ""
        if command == "exit":
            print("leaving", file=sys.stderr)
            sys.exit(int(args[1]))
        if command == "raise":
            raise ValueError("boom from the guest")
        if command == "env":
            return " ".join(f"{name}={os.environ.get(name)}" for name in args[1:])
        if command == "read":
            with open(args[1]) as file:
                return file.read()
        if command == "write":
            with open(args[1], "w") as file:
                file.write(args[2])
            return "written"
        if command == "stdin":
            return sys.stdin.read()
        if command == "loop":
            while True:
                pass
        if command == "alloc":
            return str(len(bytearray(int(args[1]))))
        return "hello"
