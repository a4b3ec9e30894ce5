"""The crawl's own certificate authority, for the recording proxy's TLS interception.

The browser's https requests reach the recording proxy as CONNECT tunnels; to record them the
proxy ends the browser's TLS itself, with a leaf certificate for the host that this CA signs,
and speaks TLS to the origin on its own. The CA is made afresh for each crawl (an EC P-256
key, valid for a week): its private key only ever lives in the crawl's memory, so nothing left
on disk can sign for a host later, and its certificate is kept in the crawl's folder
(`tls-ca.pem`), so that anyone can see what the browser was shown. Chromium trusts it for this
crawl only, by the SHA-256 hash of its public key (`--ignore-certificate-errors-spki-list`),
not by a blanket "ignore certificate errors": a certificate that does not chain to this key is
still refused.

Leaf certificates share one key (made with the CA) and are made once per host, on first use.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "tls-ca.pem"
_VALID = datetime.timedelta(days=7)


class CrawlCA:
    """A CA for one crawl, and a server-side TLS context per host signed by it."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._leaf_key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Palimpsest"),
                          x509.NameAttribute(NameOID.COMMON_NAME,
                                             "Palimpsest crawl CA (recording proxy)")])
        self.certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + _VALID)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                         False, False), critical=True)
            .sign(self._key, hashes.SHA256()))
        self._contexts: dict[str, ssl.SSLContext] = {}

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def spki_hash(self) -> str:
        """base64 SHA-256 of the CA's SubjectPublicKeyInfo: what Chromium's
        --ignore-certificate-errors-spki-list takes."""
        spki = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        digest = hashes.Hash(hashes.SHA256())
        digest.update(spki)
        return base64.b64encode(digest.finalize()).decode()

    def save(self, folder: Path) -> Path:
        """Keep the CA's certificate (never its key) in `folder`."""
        path = folder / CA_FILE
        path.write_bytes(self.pem)
        return path

    def server_context(self, host: str) -> ssl.SSLContext:
        """A TLS server context presenting a leaf certificate for `host` (and the CA)."""
        context = self._contexts.get(host)
        if context is None:
            context = self._contexts[host] = self._make_context(host)
        return context

    def _make_context(self, host: str) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_alpn_protocols(["http/1.1"])
        key = self._leaf_key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
        chain = self._leaf(host).public_bytes(serialization.Encoding.PEM) + self.pem
        # the ssl module loads a certificate chain from files only: a private folder, at once
        # emptied again
        with tempfile.TemporaryDirectory(prefix="palimpsest-tls-") as folder:
            cert_path, key_path = Path(folder, "chain.pem"), Path(folder, "key.pem")
            cert_path.write_bytes(chain)
            key_path.touch(mode=0o600)
            key_path.write_bytes(key)
            context.load_cert_chain(cert_path, key_path)
            os.unlink(key_path)
        return context

    def _leaf(self, host: str) -> x509.Certificate:
        now = datetime.datetime.now(datetime.UTC)
        try:
            alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host.strip("[]")))
        except ValueError:
            alt = x509.DNSName(host)
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host[:64])]))
            .issuer_name(self.certificate.subject).public_key(self._leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + _VALID)
            .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(self._key, hashes.SHA256()))


def origin_context(verify: bool) -> ssl.SSLContext:
    """The proxy's TLS context towards origins: certificates verified against the system's
    roots only if the crawl verifies them (Scrapy's DOWNLOAD_VERIFY_CERTIFICATES, off by
    default: an archive wants the page even when its certificate has lapsed)."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    return context
