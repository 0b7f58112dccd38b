"""Runs a command on a pseudo-terminal, answers one prompt, and reports what a human would see.

stdin: {"argv": [...], "env": {...}, "waitFor": "regex" | null, "answer": "y\\n", "signal": "SIGTERM" | null, "timeout": 30}
stdout: {"output": "...", "exitCode": n}
Used by the tests of interactive behaviour (confirmation prompts, spinner, colours).
"""
import fcntl, json, os, pty, re, select, struct, sys, termios, time

req = json.load(sys.stdin)
pid, fd = pty.fork()
if pid == 0:
    # A real terminal has a size; programs that redraw (spinners) depend on it. Set it in the
    # child before exec so the program sees it from its first instruction.
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in req.get("unset", [])}
    os.execvpe(req["argv"][0], req["argv"], {**env, **req.get("env", {})})

out = b""
answered = req.get("waitFor") is None
deadline = time.time() + req.get("timeout", 30)
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.1)
    if fd in r:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if not answered and re.search(req["waitFor"], out.decode("utf-8", "replace")):
            time.sleep(0.2)
            if req.get("signal"):
                # A signal instead of an answer: kill(1) or a closed terminal while the prompt waits.
                import signal
                os.kill(pid, getattr(signal, req["signal"]))
            else:
                os.write(fd, req.get("answer", "").encode())
            answered = True
_, status = os.waitpid(pid, 0)
print(json.dumps({"output": out.decode("utf-8", "replace"), "exitCode": os.waitstatus_to_exitcode(status), "answered": answered}))
