#!/usr/bin/env python3
"""Serves web/ on 127.0.0.1 (WebGPU needs a secure context; localhost is one).

  python3 web/serve.py [--port 8000]                      # open http://127.0.0.1:8000/
  python3 web/serve.py --port 0 --result out.json         # the test: exit after the page POSTs /result

With --result the server prints the port it took, saves the JSON the page posts to /result (the
canvas as a PNG beside it) and exits.
"""
import argparse
import base64
import functools
import http.server
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--result", help="write the page's report here, then exit")
    args = ap.parse_args()
    root = os.path.dirname(os.path.abspath(__file__))

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                          ".wasm": "application/wasm", ".js": "text/javascript"}

        def do_POST(self):
            if self.path != "/result" or not args.result:
                self.send_error(404)
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            png = body.pop("png", None)
            if png and png.startswith("data:image/png;base64,"):
                with open(os.path.splitext(args.result)[0] + ".png", "wb") as f:
                    f.write(base64.b64decode(png.split(",", 1)[1]))
            with open(args.result, "w") as f:
                json.dump(body, f, indent=1)
            self.send_response(204)
            self.end_headers()
            self.server.done = True

        def log_message(self, fmt, *a):
            if args.result is None:
                super().log_message(fmt, *a)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), functools.partial(Handler, directory=root))
    server.done = False
    print(f"serving {root} at http://127.0.0.1:{server.server_address[1]}/", flush=True)
    if args.result is None:
        server.serve_forever()
    # (Requests are handled on threads: wake up now and then to see whether the report came.)
    server.timeout = 0.5
    while not server.done:
        server.handle_request()


if __name__ == "__main__":
    sys.exit(main())
