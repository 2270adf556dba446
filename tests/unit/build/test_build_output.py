"""What the pusher sees of a buildpack build: the buildpack's lines, not BuildKit's bookkeeping."""

from paas.build.buildpack_runner import BuildOutput

RUN_DEPS = ('#7 [2/3] RUN --mount=type=bind,source=buildstep.sh,target=/paas/buildstep.sh '
            '["env", "PAAS_CACHE_ID=c", "/bin/sh", "/paas/buildstep.sh", "dependencies"]')
RUN_APP = RUN_DEPS.replace("#7 [2/3]", "#8 [3/3]").replace('"dependencies"]', '"app"]')


def feed(lines: list[str]) -> tuple[BuildOutput, list[str]]:
    seen: list[str] = []
    output = BuildOutput(seen.append)
    for line in lines:
        output(line)
    return output, seen


def test_it_passes_the_buildpacks_lines_without_step_numbers():
    output, seen = feed([
        "#1 [internal] load build definition from Dockerfile",
        "#1 transferring dockerfile: 1.2kB done",
        RUN_DEPS,
        "#7 0.512 -----> Installing requirements with pip",
        "#7 1.020        Collecting flask==3.0.3",
        "#7 DONE 4.1s",
        "#9 exporting to image",
        "#9 writing image sha256:abc done",
    ])
    assert seen == ["-----> Installing requirements with pip", "       Collecting flask==3.0.3"]
    assert not output.reused_dependencies and output.failed_step is None


def test_it_notices_a_reused_dependency_layer():
    output, seen = feed([RUN_DEPS, "#7 CACHED", RUN_APP, "#8 0.3 -----> done"])
    assert output.reused_dependencies
    assert seen == ["-----> done"]


def test_it_reports_which_step_failed_and_keeps_the_tools_error():
    output, seen = feed([
        RUN_DEPS,
        "#7 2.1        ERROR: No matching distribution found for nope==9",
        '#7 ERROR: executor failed running [env PAAS_CACHE_ID=c ...]: exit code: 1',
        "------",
        " > [2/3] RUN ...:",
        "#7 2.1        ERROR: No matching distribution found for nope==9",
        "------",
        "error: failed to solve: executor failed running [env ...]: exit code: 1",
    ])
    assert seen == ["       ERROR: No matching distribution found for nope==9"]
    assert output.failed_step == "dependencies"
    assert output.exit_status == " (exit status 1)"


def test_platform_errors_are_passed_on_whole():
    _, seen = feed(['#3 ERROR: failed to compute cache key: "/manifests" not found',
                    "error: failed to solve: failed to compute cache key"])
    assert seen == ['ERROR: failed to compute cache key: "/manifests" not found',
                    "error: failed to solve: failed to compute cache key"]


def test_the_docker_clis_final_error_line_is_dropped_once_a_step_failed():
    _, seen = feed([RUN_APP, "#8 ERROR: executor failed running [env X]: exit code: 2",
                    "executor failed running [env X]: exit code: 2"])
    assert seen == []
