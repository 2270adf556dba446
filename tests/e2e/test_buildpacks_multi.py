"""Several buildpacks in .buildpacks, Heroku style: each compiles in order, the last one releases.

The app holds only shout.txt. An operator's buildpack turns it into index.html; the shipped
static buildpack, listed second, accepts the app only because of that file and then serves it
with its own server (its release wins over the first buildpack's).
"""

from tests.e2e.stack import commit_all, git, unique_app_name

SITE_MAKER = {
    "detect": '#!/bin/sh\n[ -f "$1/shout.txt" ] && echo SiteMaker\n',
    "compile": '#!/bin/sh\nset -e\necho "-----> site-maker compiling"\n'
               "tr '[:lower:]' '[:upper:]' < \"$1/shout.txt\" > \"$1/index.html\"\n",
    # Would serve with http.server (no Cache-Control) if it were the last buildpack.
    "release": "#!/bin/sh\nprintf -- '---\\ndefault_process_types:\\n"
               "  web: exec python3 -m http.server $PORT\\n'\n",
}


def test_each_buildpack_compiles_in_order_and_the_last_release_wins(stack, tmp_path):
    name = unique_app_name("site-maker")
    buildpack = stack.home / "buildpacks" / name
    (buildpack / "bin").mkdir(parents=True)
    for script, text in SITE_MAKER.items():
        (buildpack / "bin" / script).write_text(text)
        (buildpack / "bin" / script).chmod(0o755)
    repo = tmp_path / "multi"
    repo.mkdir()
    (repo / "shout.txt").write_text("made by the first buildpack\n")
    (repo / ".buildpacks").write_text(f"# order matters\n{buildpack}\nstatic\n")
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "two buildpacks")
    app = unique_app_name("multi")

    result = stack.push(repo, app)
    assert result.returncode == 0, result.stderr + stack.logs()
    output = result.stderr
    assert f"remote: -----> Using buildpack {name} ({buildpack})" in output
    assert "remote: -----> Using buildpack static (static)" in output
    assert output.index("site-maker compiling") < output.index(
        "Installing the static file server")
    answer = stack.get(app)
    assert answer.status == 200
    assert answer.body == "MADE BY THE FIRST BUILDPACK\n"
    assert answer.headers.get("Cache-Control") == "public, max-age=60"  # static's server
    assert stack.get(app, "/.paas/static/server.py").status == 404
