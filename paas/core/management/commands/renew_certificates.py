"""``manage.py renew_certificates [--within-days N]``: the periodic renewal pass, run now.

For an operator who does not want to wait for the next pass (twice a day), and for the
end-to-end test, which renews a certificate valid for years by widening the window.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from paas.core.acme_certificates import renew_certificates


class Command(BaseCommand):
    help = "Issue again every ACME certificate that expires within the renewal window."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--within-days", type=int, default=None,
                            help="renew what expires within this many days "
                                 "(default PAAS_ACME_RENEW_DAYS)")

    def handle(self, *args, within_days: int | None = None, **options) -> None:
        if within_days is not None and within_days < 1:
            raise CommandError("--within-days must be 1 or more")
        before = timedelta(days=within_days) if within_days is not None else None
        renewals = renew_certificates(before, log=self.stdout.write)
        if not renewals:
            self.stdout.write("no ACME certificate is due for renewal")
        if any(not renewal.renewed for renewal in renewals):
            raise CommandError("some renewals failed (above); the certificates are kept")
