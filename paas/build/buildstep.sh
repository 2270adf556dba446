#!/bin/sh
# One step of a buildpack build. paas runs it inside the build container (stack image, user app)
# with everything bind-mounted read-only, so none of it stays in the image:
#   /paas/buildpack   the buildpack (bin/detect, bin/compile, bin/release)
#   /paas/manifests   the dependency manifests only (the dependencies step)
#   /paas/src         the whole pushed tree (the app step)
#   /paas/env         ENV_DIR: one file per app config var
#   /paas/cache       CACHE_DIR: a BuildKit cache mount kept per app (pip and npm downloads)
# Usage: buildstep.sh dependencies|app|all [INDEX]
#   INDEX (several buildpacks): this buildpack's position; a later one (INDEX > 0) compiles the
#   tree the earlier ones left in /app, with their .profile.d scripts (PATH, ...) sourced first.
set -eu
step=$1
index=${2:-0}
bp=/paas/buildpack

case "$step" in
    dependencies)
        cp -R /paas/manifests/. /app/
        PAAS_BUILD_PHASE=dependencies "$bp/bin/compile" /app /paas/cache /paas/env
        ;;
    app | all)
        if [ "$index" = 0 ]; then
            cp -R /paas/src/. /app/
        elif [ -d /app/.profile.d ]; then
            set +u  # profile scripts are written for paas-launch's plain sh
            for script in /app/.profile.d/*.sh; do
                # shellcheck disable=SC1090
                [ -r "$script" ] && . "$script"
            done
            set -u
        fi
        if [ "${PAAS_RUN_DETECT:-0}" = 1 ]; then
            if ! detected=$("$bp/bin/detect" /app); then
                echo " !     the selected buildpack does not accept this app (its bin/detect failed)" >&2
                exit 1
            fi
            echo "-----> ${detected:-buildpack} app detected"
        fi
        if [ "$step" = app ]; then
            export PAAS_BUILD_PHASE=app
        fi
        "$bp/bin/compile" /app /paas/cache /paas/env
        mkdir -p /app/.paas
        "$bp/bin/release" /app > /app/.paas/release.out
        ;;
    *)
        echo "buildstep.sh: unknown step '$step'" >&2
        exit 2
        ;;
esac
