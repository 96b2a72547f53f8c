"""A local SMTP sink for Tessera's email tests: accepts every message on 127.0.0.1 and
writes each, with its envelope, as one JSON file into a folder. Prints the port it listens
on, then serves until its standard input closes (the test ends)."""
import asyncio
import json
import os
import sys
import threading

from aiosmtpd.smtp import SMTP


class Folder:
    def __init__(self, path):
        self.path = path
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        final = os.path.join(self.path, f"{self.count:04}.json")
        # Written aside and renamed, so the test never reads half a message.
        with open(final + ".part", "w", encoding="utf-8") as f:
            json.dump(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": envelope.rcpt_tos,
                    "data": envelope.original_content.decode("utf-8", "replace"),
                },
                f,
            )
        os.rename(final + ".part", final)
        return "250 Message accepted"


async def main(path):
    loop = asyncio.get_running_loop()
    folder = Folder(path)
    # A fixed hostname: the default looks up the machine's FQDN, which can stall on DNS.
    server = await loop.create_server(
        lambda: SMTP(folder, hostname="sink.test"), "127.0.0.1", 0
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    stopped = asyncio.Event()
    threading.Thread(
        target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(stopped.set)),
        daemon=True,
    ).start()
    await stopped.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
