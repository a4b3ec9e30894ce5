"""WACZ 1.1.1 packages of the collection (issue 14): export, and (by their own modules)
import, signatures and evidence packages.

    writer.py     export_wacz(): the zip, streamed; datapackage.json and its digest
    selection.py  Selection: which captures an export holds, resolved against the catalog
    zipnum.py     indexes/index.cdx.gz as ZipNum blocks and indexes/index.idx
    records.py    a selection's records copied whole into new WARC files
    pages.py      pages/pages.jsonl with each page's extracted text
    signing.py    sign_digest(): the signedData of datapackage-digest.json
    reader.py     reading a WACZ back (`palimpsest add FILE.wacz`)
    evidence.py   evidence packages of a diff or a watched phrase

The WACZ spec (specs.webrecorder.net/wacz/1.1.1) is followed as py-wacz and ReplayWeb.page
read it: WARCs under archive/ stored, not deflated; zip64 past 4 GB; every resource listed
in datapackage.json with its sha256 and size.
"""
