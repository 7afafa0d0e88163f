#!/usr/bin/env python3
"""Small helpers for benchmarks/run.sh (python3 standard library only).

  helpers.py free-port                      print a free TCP port on 127.0.0.1
  helpers.py port-of FILE KEY               print KEY from a JSON ports file ({"state": 8080, ...})
  helpers.py probe PORT PATH CLIENT [TRIES] [--tls] [--message-id] [-H 'Name: value']...
                                            GET once (retrying while refused); exit 0 on 200,
                                            else print status/body to stderr and exit 1.
                                            --tls: https without certificate verification (the
                                            bench certificate is self-signed); --message-id: a
                                            fresh Qaqpa-Message-Id (UUIDv4) per attempt
  helpers.py wrk-field FILE KEY             print one field of the JSON request.lua wrote
"""
import http.client
import json
import socket
import ssl
import sys
import time
import uuid


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def port_of(path, key):
    with open(path) as f:
        print(json.load(f)[key])


def probe(port, path, client, tries=50, tls=False, message_id=False, extra=()):
    last = "no attempt"
    ctx = None
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    for _ in range(int(tries)):
        try:
            if tls:
                c = http.client.HTTPSConnection("127.0.0.1", int(port), timeout=5, context=ctx)
            else:
                c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
            headers = {"Qaqpa-Client": client, "Accept": "application/json"}
            for h in extra:
                k, v = h.split(":", 1)
                headers[k.strip()] = v.strip()
            if message_id:
                headers["Qaqpa-Message-Id"] = str(uuid.uuid4())
            c.request("GET", path, headers=headers)
            r = c.getresponse()
            body = r.read()
            c.close()
            if r.status == 200:
                return 0
            sys.stderr.write("probe: GET %s on 127.0.0.1:%s -> %d %s\n%s\n" % (
                path, port, r.status, r.reason, body.decode("utf-8", "replace")[:2000]))
            return 1
        except (ConnectionRefusedError, ConnectionResetError, socket.timeout, OSError) as e:
            last = repr(e)
            time.sleep(0.2)
    sys.stderr.write("probe: 127.0.0.1:%s never answered (%s)\n" % (port, last))
    return 1


def probe_args(args):
    pos, tls, mid, extra = [], False, False, []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--tls":
            tls = True
        elif a == "--message-id":
            mid = True
        elif a == "-H":
            i += 1
            extra.append(args[i])
        else:
            pos.append(a)
        i += 1
    return probe(*pos, tls=tls, message_id=mid, extra=extra)


def main(argv):
    cmd = argv[1]
    if cmd == "free-port":
        free_port()
    elif cmd == "port-of":
        port_of(argv[2], argv[3])
    elif cmd == "probe":
        return probe_args(argv[2:])
    elif cmd == "wrk-field":
        with open(argv[2]) as f:
            print(json.load(f)[argv[3]])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
