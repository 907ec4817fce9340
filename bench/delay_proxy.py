"""A TCP proxy that holds every chunk for a fixed time in each direction, so a database on
this machine behaves like one a network round trip away (`tc netem` is not available here).

    python3 bench/delay_proxy.py LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT ONE_WAY_MS

Chunks keep their order; each is released ONE_WAY_MS after it arrived, however many are in
flight, as on a long link. Runs until killed."""

import asyncio
import sys

LISTEN_PORT, UP_HOST, UP_PORT, ONE_WAY_MS = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
DELAY = ONE_WAY_MS / 1000


async def pipe(reader, writer):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def release():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(release())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            queue.put_nowait((loop.time() + DELAY, data))
    except ConnectionError:
        pass
    queue.put_nowait((0, None))
    try:
        await sender
    except ConnectionError:
        pass


async def serve(client_reader, client_writer):
    try:
        up_reader, up_writer = await asyncio.open_connection(UP_HOST, UP_PORT)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, up_writer), pipe(up_reader, client_writer))


async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", LISTEN_PORT)
    async with server:
        await server.serve_forever()


asyncio.run(main())
