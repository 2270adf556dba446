"""The running control plane: its Redis runs unprivileged and wants the generated password."""

import os
import subprocess


def test_the_stacks_redis_runs_as_paas_and_refuses_clients_without_the_password(stack):
    pid = stack.supervisorctl("pid", "redis").stdout.strip()
    user = subprocess.run(["ps", "-o", "user=", "-p", pid], capture_output=True,
                          text=True).stdout.strip()
    environ = {key: value for key, value in os.environ.items() if key != "REDISCLI_AUTH"}
    anonymous = subprocess.run(["redis-cli", "-p", str(stack.redis_port), "get", "anything"],
                               capture_output=True, text=True, env=environ)

    assert user == "paas"
    assert "NOAUTH" in anonymous.stdout + anonymous.stderr
    assert stack.redis_cli("ping").stdout.strip() == "PONG"  # with the password
