"""The anonymous signature of the WACZ Signing and Verification spec (wacz-auth 0.1.0).

`signedData` in datapackage-digest.json holds the sha256 of datapackage.json (`hash`, as
"sha256:<hex>"), the package's `created` time, the `software` that signed, the `signature` and
the `publicKey`. The signature is ECDSA on P-384 with SHA-256 over the UTF-8 bytes of the `hash`
string, base64 of the raw r||s pair (IEEE P1363, 96 bytes), which is what WebCrypto makes and
what ReplayWeb.page (wabac.js `verifyWACZSignature`) checks; the public key is base64 of its DER
SubjectPublicKeyInfo. Whoever holds the key can sign; the signature proves the package is
unchanged since, and which key signed it, not who holds the key.

The collection's key is made once, on first use, at <collection>/keys/signing-key.pem (mode
0600, in a folder of mode 0700) and kept: packages signed later name the same public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from index import __version__
from index.collection import Collection
from index.errors import UsageError

KEY_FILE = "keys/signing-key.pem"
SOFTWARE = f"palimpsest {__version__}"
_P384_BYTES = 48  # one coordinate, r or s, of a P-384 signature
_ALGORITHM = ec.ECDSA(hashes.SHA256())
# the anonymous signature's fields, and only those (the spec forbids any other)
SIGNED_FIELDS = ("hash", "created", "software", "signature", "publicKey")


def key_path(collection: Collection) -> Path:
    return collection.root / KEY_FILE


def signing_key(collection: Collection) -> ec.EllipticCurvePrivateKey:
    """The collection's P-384 private key, made (and written with mode 0600) on first use."""
    path = key_path(collection)
    if not path.exists():
        _write_new_key(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable signing key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp384r1":
        raise UsageError(f"{path}: not a P-384 key (WACZ signatures need one)")
    return key


def _write_new_key(path: Path) -> None:
    """Write a fresh key, never readable by others, never replacing one made meanwhile."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use that one
        return
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    """The base64 DER SubjectPublicKeyInfo of `key`'s public half, as `publicKey` holds it."""
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def digest_of(datapackage_json_bytes: bytes) -> str:
    """The `hash` of datapackage.json as datapackage-digest.json and signedData write it."""
    return "sha256:" + hashlib.sha256(datapackage_json_bytes).hexdigest()


def sign_digest(collection: Collection, datapackage_json_bytes: bytes) -> dict:
    """The `signedData` for a package whose datapackage.json is these bytes: its `created`
    is the datapackage's own (py-wacz's validator requires the two to be equal)."""
    try:
        created = json.loads(datapackage_json_bytes)["created"]
    except (ValueError, KeyError, TypeError):
        raise UsageError("datapackage.json has no 'created' time to sign") from None
    key = signing_key(collection)
    digest = digest_of(datapackage_json_bytes)
    r, s = decode_dss_signature(key.sign(digest.encode("utf-8"), _ALGORITHM))
    raw = r.to_bytes(_P384_BYTES, "big") + s.to_bytes(_P384_BYTES, "big")
    return {"hash": digest, "created": created, "software": SOFTWARE,
            "signature": base64.b64encode(raw).decode("ascii"),
            "publicKey": public_key_b64(key)}


def signature_problems(signed: object, expected_hash: str, created: str | None) -> list[str]:
    """What is wrong with an anonymous `signedData` for a datapackage.json whose hash is
    `expected_hash` and whose `created` is `created`: one line per fault, none when the
    signature verifies against its publicKey."""
    if not isinstance(signed, dict):
        return ["signedData: not an object"]
    missing = [name for name in ("hash", "signature", "publicKey")
               if not isinstance(signed.get(name), str)]
    if missing:
        return [f"signedData: no {', '.join(missing)} (only anonymous signatures, with a "
                "publicKey, are checked)"]
    problems = []
    if signed["hash"] != expected_hash:
        problems.append("signedData: its hash is not datapackage.json's")
    if created is not None and signed.get("created") != created:
        problems.append("signedData: its created time is not datapackage.json's")
    problems.extend(_signature_fault(signed["hash"], signed["signature"], signed["publicKey"]))
    return problems


def _signature_fault(digest: str, signature_b64: str, public_key_b64_: str) -> list[str]:
    try:
        public = serialization.load_der_public_key(base64.b64decode(public_key_b64_,
                                                                    validate=True))
    except (ValueError, binascii.Error):
        return ["signedData: publicKey is not a base64 DER public key"]
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp384r1":
        return ["signedData: publicKey is not a P-384 ECDSA key"]
    try:
        raw = base64.b64decode(signature_b64, validate=True)
    except binascii.Error:
        return ["signedData: signature is not base64"]
    try:
        public.verify(_as_der(raw), digest.encode("utf-8"), _ALGORITHM)
    except (InvalidSignature, ValueError):
        return ["signedData: the signature does not verify against its publicKey"]
    return []


def _as_der(signature: bytes) -> bytes:
    """A signature as `cryptography` takes it: raw r||s (as the spec's WebCrypto makes) turned
    into DER; anything else passed on as DER (as some signers write it)."""
    if len(signature) != 2 * _P384_BYTES:
        return signature
    return encode_dss_signature(int.from_bytes(signature[:_P384_BYTES], "big"),
                                int.from_bytes(signature[_P384_BYTES:], "big"))
