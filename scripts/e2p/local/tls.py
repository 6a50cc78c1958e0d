"""A throw-away certificate authority for the local receiver, so clients verify TLS as they would for real.

`trustme` makes the CA and a certificate for 127.0.0.1 and localhost; the CA bundle is written to
disk for the client side (`requests`' `verify=`, the handler's CA bundle variable).
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Final

CA_BUNDLE_NAME: Final = "local-panther-ca.pem"
SERVED_NAMES: Final = ("127.0.0.1", "localhost")


def local_tls(tmpdir: str | os.PathLike[str]) -> tuple[ssl.SSLContext, Path]:
    """(server context for `LocalPanther(tls=...)`, path of the CA bundle that clients must trust)."""
    # Lazy: trustme pulls in `cryptography`, which the plain-HTTP local mode never needs.
    import trustme

    authority = trustme.CA(organization_name="events2panther local Panther")
    certificate = authority.issue_cert(*SERVED_NAMES)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    certificate.configure_cert(context)
    ca_path = Path(tmpdir) / CA_BUNDLE_NAME
    authority.cert_pem.write_to_path(str(ca_path))
    return context, ca_path
