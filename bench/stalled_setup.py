"""What bench/stalled.py and bench/stalled_h2.py share: the server binary on a database of its
own, alice with 500 tasks of 5 000 control characters (six bytes of JSON each), bob with one
task, the server's memory, bob's list, and the clean-up. 127.0.0.1 only."""
import json, os, socket, subprocess, tempfile, time, urllib.error, urllib.request

PG = os.environ.get("ADMIN_URL", "postgres://postgres@127.0.0.1:5432")


def psql(db, sql):
    subprocess.run(["psql", f"{PG}/{db}", "-qc", sql], check=True)


class Stage:
    def __init__(self, binary, name):
        self.db = f"send_measure_{name}"
        psql("postgres", f"DROP DATABASE IF EXISTS {self.db}")
        psql("postgres", f"CREATE DATABASE {self.db}")
        s = socket.socket(); s.bind(("127.0.0.1", 0)); self.port = s.getsockname()[1]; s.close()
        env = {"PATH": os.environ["PATH"], "DATABASE_URL": f"{PG}/{self.db}",
               "JWT_SECRET": "measure-secret-measure-secret-0123456789",
               "PORT": str(self.port), "METRICS_ADDR": "off", "RUST_LOG": "warn"}
        for kv in filter(None, os.environ.get("EXTRA", "").split(",")):
            k, v = kv.split("="); env[k] = v
        logs = tempfile.mkdtemp(prefix="todo-stalled-")
        log = open(os.path.join(logs, f"{name}.log"), "w")
        self.srv = subprocess.Popen([binary], env=env, stdout=log, stderr=log, cwd=logs)
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(200):
            try:
                if self.call("GET", "/health/live", timeout=1)[0] == 200: break
            except Exception: pass
            time.sleep(0.1)
        self.aid, self.atok = self.user("alice")
        self.bid, self.btok = self.user("bob")
        self.call("POST", f"/api/{self.bid}/tasks", {"title": "light"}, self.btok)
        psql(self.db, f"INSERT INTO task (user_id, title, description) SELECT {self.aid}, "
                      f"'heavy ' || n, repeat(chr(1), 5000) FROM generate_series(1, 500) n")

    def call(self, method, path, body=None, token=None, timeout=10):
        req = urllib.request.Request(self.base + path, method=method,
                                     data=json.dumps(body).encode() if body else None)
        req.add_header("Content-Type", "application/json")
        if token: req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def user(self, name):
        password = "password-of-" + name
        self.call("POST", "/api/auth/register", {"username": name, "email": f"{name}@example.com", "password": password})
        _, body = self.call("POST", "/api/auth/login", {"email": f"{name}@example.com", "password": password})
        j = json.loads(body); return j["user"]["id"], j["access_token"]

    def memory(self):
        """The server's resident MB now (VmRSS) and at its peak (VmHWM)."""
        out = {}
        for line in open(f"/proc/{self.srv.pid}/status"):
            k, v = line.split(":", 1)
            if k in ("VmHWM", "VmRSS"): out[k] = int(v.split()[0]) // 1024
        return out

    def bobs_list(self):
        """Bob's list: its status (or the error) and how many seconds it took."""
        t = time.monotonic()
        try: status = self.call("GET", f"/api/{self.bid}/tasks", token=self.btok, timeout=15)[0]
        except Exception as e: status = repr(e)
        return status, round(time.monotonic() - t, 2)

    def stop(self):
        self.srv.terminate(); self.srv.wait(timeout=30)
        subprocess.run(["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {self.db}"])
