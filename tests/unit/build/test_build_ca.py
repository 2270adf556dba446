import json

from paas.build.build_ca import MOUNT_FLAG, MOUNT_TARGET, add_build_ca, hide_build_ca


def test_it_mounts_the_ca_into_shell_form_run_steps():
    result = add_build_ca("FROM base\nRUN pip install flask\n")
    lines = result.splitlines()
    assert lines[0] == "FROM base"
    assert lines[1].startswith(f"RUN {MOUNT_FLAG} export SSL_CERT_FILE={MOUNT_TARGET} ")
    assert f"PIP_CERT={MOUNT_TARGET}" in lines[1]
    assert lines[1].endswith("; pip install flask")


def test_it_wraps_exec_form_run_steps_with_env():
    result = add_build_ca('FROM base\nRUN ["npm", "ci"]\n')
    run = result.splitlines()[1]
    argv = json.loads(run.split(MOUNT_FLAG + " ", 1)[1])
    assert argv[0] == "env"
    assert f"NODE_EXTRA_CA_CERTS={MOUNT_TARGET}" in argv
    assert argv[-2:] == ["npm", "ci"]


def test_it_keeps_continuation_lines_and_existing_flags():
    source = "FROM base\nrun --network=host apt-get update \\\n    && apt-get install -y curl\n"
    result = add_build_ca(source)
    assert f"run {MOUNT_FLAG} --network=host export " in result
    assert "apt-get update \\\n    && apt-get install -y curl\n" in result


def test_it_leaves_other_instructions_and_comments_alone():
    source = "# RUN not me\nFROM base\nCOPY . /app\nCMD [\"python\"]\n"
    assert add_build_ca(source) == source


def test_build_output_shows_the_users_own_command():
    rewritten = add_build_ca("FROM base\nRUN pip install flask\n").splitlines()[1]
    assert hide_build_ca(f"#5 [2/3] {rewritten}") == "#5 [2/3] RUN pip install flask"
