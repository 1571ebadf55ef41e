"""What a headshot file says about where it came from (README, "Headshot provenance").

Two standards are read from the original bytes, offline:

* the IPTC **Digital Source Type** in the file's XMP packet
  (``Iptc4xmpExt:DigitalSourceType``, e.g.
  ``http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia``), found in a
  JPEG's APP1 segment, a PNG's ``iTXt``/``zTXt``/``tEXt`` chunk (``XML:com.adobe.xmp``, or
  ImageMagick's ``Raw profile type xmp``), a WebP's ``XMP `` chunk, or, in HEIC and any
  other container, by XMP packet scanning;
* a **C2PA manifest** (Content Credentials) embedded as JUMBF (JPEG APP11, PNG ``caBX``,
  WebP ``C2PA``, an ISO BMFF ``uuid`` box): found by walking the container, then read and
  verified with the ``c2pa-python`` package (claim generator, actions such as
  ``c2pa.created`` with their digital source type, signer, validation state), with
  network look-ups (remote manifests, OCSP) switched off. Without the package the
  manifest is reported as "signed manifest present, not verified".

Reading is bounded and never raises for anything a file contains: a packet over
``MAX_XMP_BYTES``, XML deeper than ``MAX_XML_DEPTH`` or with more than
``MAX_XML_ELEMENTS`` elements, any DTD or entity declaration (billion laughs, external
entities), malformed XML, a broken or fake manifest: each is one entry of ``problems`` and
the result says ``status: "unreadable"`` when nothing usable was found. The image
pipeline (``freshness.faces.decode``) never sees any of this: it strips all metadata from
its working image; provenance is read from the original bytes separately.

The result, stored in ``Headshot.provenance`` (see ``read_provenance``)::

    {"version": 1,
     "status": "none" | "found" | "unreadable",
     "source": "c2pa" | "xmp" | None,        # where digital_source_type comes from
     "digital_source_type": "trainedAlgorithmicMedia" | ... | None,   # the IPTC code
     "ai_generated": True | False | None,    # what the file says (None: it does not say)
     "generator": "Some generator 2.1" | None,   # C2PA claim generator, else xmp:CreatorTool
     "signed": bool,                         # a C2PA manifest (a signed claim) is embedded
     "valid": True | False | None,           # its signature and hashes check out; None: not verified
     "validation": "trusted" | "valid" | "invalid" | "not_verified" | None,
     "signer": "common name (issuer)" | None,
     "label_intact": bool,                   # an AI label is there, readable and not broken
     "problems": [str, ...]}

plus, once the person says so, ``published_with_label: true`` (the file is published with
its embedded label; see ``freshness.rules``).

Stdlib only at import time: defusedxml and c2pa load when a file has something to read.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import TreeBuilder

VERSION = 1

#: An XMP packet larger than this is not parsed (a JPEG's standard XMP is at most 64 KB).
MAX_XMP_BYTES = 1024 * 1024
#: Nesting depth and element count of one XMP packet (real ones: depth < 12, a few hundred elements).
MAX_XML_DEPTH = 64
MAX_XML_ELEMENTS = 20_000
#: Segments, chunks or boxes walked in one file (a real photo has a few dozen).
MAX_PARTS = 20_000
#: A C2PA manifest store larger than this (after decompression) is not read.
MAX_MANIFEST_MB = 16

IPTC_DST = "http://cv.iptc.org/newscodes/digitalsourcetype/"
NS_IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
NS_XMP = "http://ns.adobe.com/xap/1.0/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_DCTERMS = "http://purl.org/dc/terms/"

#: Digital source types that mean the picture was generated (not photographed): the IPTC
#: codes for generative AI output, composites with it, and pure algorithmic media.
AI_TYPES = frozenset({
    "trainedAlgorithmicMedia",
    "compositeWithTrainedAlgorithmicMedia",
    "compositeSynthetic",
    "algorithmicMedia",
    "trainedAlgorithmicData",  # an early spelling some C2PA tools still write
})
#: Codes that describe a capture or human-made media: not AI-generated.
NOT_AI_TYPES = frozenset({
    "digitalCapture",
    "computationalCapture",
    "negativeFilm",
    "positiveFilm",
    "print",
    "minorHumanEdits",
    "humanEdits",
    "compositeCapture",
    "composite",
    "screenCapture",
    "virtualRecording",
    "digitalCreation",
    "dataDrivenMedia",
    "algorithmicallyEnhanced",
    "digitalArt",  # retired IPTC code
})

_C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")  # ISO BMFF uuid box of a C2PA manifest store
_XMP_JPEG = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_JPEG_EXT = b"http://ns.adobe.com/xmp/extension/\x00"
_MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "heif": "image/heic"}


class Unreadable(Exception):
    """Something provenance-like that cannot be read; ``str()`` says why, for people."""


@dataclass
class _Found:
    """What the container walk found, before anything is parsed."""

    format: str | None = None
    xmp: list[bytes] = field(default_factory=list)
    c2pa: bool = False
    problems: list[str] = field(default_factory=list)


@dataclass
class _Label:
    """One source's statement: its digital source type(s), generator and validity."""

    source: str  # c2pa | xmp
    types: list[str] = field(default_factory=list)  # IPTC codes, in the order found
    generator: str | None = None
    valid: bool | None = None
    validation: str | None = None
    signer: str | None = None

    @property
    def ai(self) -> bool | None:
        if any(t in AI_TYPES for t in self.types):
            return True
        if any(t in NOT_AI_TYPES for t in self.types):
            return False
        return None

    @property
    def main_type(self) -> str | None:
        ai = [t for t in self.types if t in AI_TYPES]
        return (ai or self.types or [None])[0]


def empty(status: str = "none") -> dict[str, Any]:
    """The shape with nothing in it (``status`` none, or unreadable before problems are added)."""
    return {"version": VERSION, "status": status, "source": None, "digital_source_type": None,
            "ai_generated": None, "generator": None, "signed": False, "valid": None, "validation": None,
            "signer": None, "label_intact": False, "problems": []}


def dst_code(value: str | None) -> str | None:
    """The IPTC code of a digital source type given as a URI (either scheme) or a bare code."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    for prefix in (IPTC_DST, IPTC_DST.replace("http://", "https://")):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    text = text.strip("/")
    if not text or len(text) > 80 or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", text):
        return None
    return text


def dst_uri(code: str) -> str:
    return IPTC_DST + code


# ---------------------------------------------------------------- reading


def read_provenance(data: bytes, *, verify_c2pa: bool = True) -> dict[str, Any]:
    """What ``data`` (an image file) says about its origin; never raises for its content.

    ``verify_c2pa=False`` reports an embedded manifest without reading it (as when the
    c2pa-python package is missing)."""
    try:
        return _read(data, verify_c2pa)
    except Exception as exc:  # a bug here must not block a headshot: say so and move on
        out = empty("unreadable")
        out["problems"] = [f"the file's provenance could not be read ({type(exc).__name__}: {_short(exc)})"]
        return out


def _read(data: bytes, verify_c2pa: bool) -> dict[str, Any]:
    found = _walk(data)
    problems = list(found.problems)
    labels: list[_Label] = []
    remote: list[str] = []
    xmp_label = _Label("xmp")
    xmp_read = False
    for packet in found.xmp:
        try:
            facts = parse_xmp(packet)
        except Unreadable as exc:
            problems.append(f"the XMP packet is unreadable: {exc}")
            continue
        xmp_read = True
        for t in facts["types"]:
            if t not in xmp_label.types:
                xmp_label.types.append(t)
        xmp_label.generator = xmp_label.generator or facts["creator_tool"]
        remote.extend(facts["provenance"])
        for raw in facts["unknown"]:
            problems.append(f"the XMP names an unknown digital source type {raw[:120]!r}")
    if xmp_label.types:
        labels.append(xmp_label)
    elif xmp_read and remote:
        problems.append("the XMP points to a C2PA manifest stored elsewhere (not fetched: nothing is "
                        "read over the network)")

    c2pa_label: _Label | None = None
    if found.c2pa:
        if verify_c2pa:
            try:
                c2pa_label = read_c2pa(data, _MIME.get(found.format or "", "application/octet-stream"))
            except Unreadable as exc:
                problems.append(f"the C2PA manifest is unreadable: {exc}")
            except ImportError:
                c2pa_label = _Label("c2pa", validation="not_verified")
                problems.append("signed manifest present, not verified (the c2pa-python package is not installed)")
        else:
            c2pa_label = _Label("c2pa", validation="not_verified")
            problems.append("signed manifest present, not verified")
    if c2pa_label is not None:
        labels.insert(0, c2pa_label)

    out = empty()
    out["signed"] = c2pa_label is not None  # a manifest was read (or, unverified, found)
    if c2pa_label is not None:
        out["valid"], out["validation"], out["signer"] = c2pa_label.valid, c2pa_label.validation, c2pa_label.signer
        if c2pa_label.valid is False:
            problems.append("the C2PA manifest does not validate: the file was changed after it was signed, "
                            "or the signature is broken")
    # the source named: an intact AI label first (the manifest before the XMP), then any that
    # states a type, then a manifest that states none
    primary = next((lab for lab in labels if lab.ai is True and lab.valid is not False),
                   next((lab for lab in labels if lab.types), labels[0] if labels else None))
    if primary is not None:
        out["status"] = "found"
        out["source"] = primary.source
        out["digital_source_type"] = primary.main_type
    says = [lab.ai for lab in labels if lab.ai is not None]
    out["ai_generated"] = True if True in says else (False if says else None)
    if True in says and False in says:
        detail = "; ".join(f"the {_SOURCE_NAMES[lab.source]} says {lab.main_type}" for lab in labels if lab.types)
        problems.append(f"the file's labels disagree ({detail}): counted as AI-generated")
    out["generator"] = next((lab.generator for lab in labels if lab.generator), None)
    out["label_intact"] = any(lab.ai is True and lab.valid is not False for lab in labels)
    if out["status"] == "none" and problems:
        out["status"] = "unreadable"
    out["problems"] = problems
    return out


_SOURCE_NAMES = {"c2pa": "C2PA manifest", "xmp": "XMP"}


def _short(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- containers


def _walk(data: bytes) -> _Found:
    head = data[:16]
    if head.startswith(b"\xff\xd8"):
        return _walk_jpeg(data)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _walk_png(data)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _walk_webp(data)
    if head[4:8] == b"ftyp":
        return _walk_bmff(data)
    return _Found()


def _walk_jpeg(data: bytes) -> _Found:
    found = _Found("jpeg")
    i, n, parts = 2, len(data), 0
    while i + 4 <= n and parts < MAX_PARTS:
        parts += 1
        if data[i] != 0xFF:
            found.problems.append("the JPEG's segments are broken: metadata after that point was not read")
            break
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: metadata segments come before
            break
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if length < 2 or i + 2 + length > n:
            found.problems.append("a JPEG segment runs past the end of the file: metadata after that point "
                                  "was not read")
            break
        seg = data[i + 4 : i + 2 + length]
        if marker == 0xE1 and seg.startswith(_XMP_JPEG):
            found.xmp.append(seg[len(_XMP_JPEG):])
        elif marker == 0xEB and seg[:2] == b"JP" and b"jumb" in seg[:24] and b"c2pa" in seg[:96]:
            found.c2pa = True
        i += 2 + length
    return found


def _inflate(blob: bytes, limit: int) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(blob, limit + 1)
    except zlib.error as exc:
        raise Unreadable(f"its compressed text is corrupt ({_short(exc)})") from None
    if len(out) > limit:
        raise Unreadable(f"it inflates to more than {limit // 1024} KB, the limit")
    return out


def _imagemagick_xmp(text: bytes) -> bytes:
    """ImageMagick's ``Raw profile type xmp``: "\\nxmp\\n<length>\\n<hex lines>"."""
    parts = text.split(None, 2)
    if len(parts) < 3 or not parts[1].isdigit():
        raise Unreadable("its raw XMP profile is malformed")
    size = int(parts[1])
    if size > MAX_XMP_BYTES:
        raise Unreadable(f"it is {size // 1024} KB, over the {MAX_XMP_BYTES // 1024} KB limit")
    try:
        raw = bytes.fromhex(re.sub(rb"\s+", b"", parts[2]).decode("ascii"))
    except ValueError:
        raise Unreadable("its raw XMP profile is not hexadecimal") from None
    return raw[:size]


def _walk_png(data: bytes) -> _Found:
    found = _Found("png")
    i, n, parts = 8, len(data), 0
    while i + 8 <= n and parts < MAX_PARTS:
        parts += 1
        length, kind = struct.unpack(">I4s", data[i : i + 8])
        if i + 12 + length > n:
            found.problems.append("a PNG chunk runs past the end of the file: metadata after that point was not read")
            break
        body = data[i + 8 : i + 8 + length]
        i += 12 + length
        if kind == b"IEND":
            break
        if kind == b"caBX":
            found.c2pa = True
            continue
        if kind not in (b"iTXt", b"zTXt", b"tEXt"):
            continue
        keyword, _, rest = body.partition(b"\x00")
        if keyword not in (b"XML:com.adobe.xmp", b"Raw profile type xmp"):
            continue
        try:
            if kind == b"iTXt":
                if len(rest) < 2:
                    raise Unreadable("its iTXt chunk is truncated")
                compressed, text = rest[0], rest[2:]
                text = text.split(b"\x00", 2)[-1]  # after the language tag and the translated keyword
                if compressed:
                    text = _inflate(text, MAX_XMP_BYTES)
            elif kind == b"zTXt":
                text = _inflate(rest[1:], MAX_XMP_BYTES * 2 + 1024)  # a hex profile is twice as long
            else:
                text = rest
            found.xmp.append(_imagemagick_xmp(text) if keyword == b"Raw profile type xmp" else text)
        except Unreadable as exc:
            found.problems.append(f"the XMP packet is unreadable: {exc}")
    return found


def _walk_webp(data: bytes) -> _Found:
    found = _Found("webp")
    i, n, parts = 12, len(data), 0
    while i + 8 <= n and parts < MAX_PARTS:
        parts += 1
        kind, length = data[i : i + 4], struct.unpack("<I", data[i + 4 : i + 8])[0]
        if i + 8 + length > n:
            found.problems.append("a WebP chunk runs past the end of the file: metadata after that point was not read")
            break
        if kind == b"XMP ":
            found.xmp.append(data[i + 8 : i + 8 + length])
        elif kind == b"C2PA":
            found.c2pa = True
        i += 8 + length + (length & 1)
    return found


def _walk_bmff(data: bytes) -> _Found:
    """HEIC/HEIF (ISO BMFF): a C2PA ``uuid`` box among the top-level boxes; XMP by packet scanning."""
    found = _Found("heif")
    i, n, parts = 0, len(data), 0
    while i + 8 <= n and parts < MAX_PARTS:
        parts += 1
        size, kind = struct.unpack(">I4s", data[i : i + 8])
        header = 8
        if size == 1 and i + 16 <= n:
            size, header = struct.unpack(">Q", data[i + 8 : i + 16])[0], 16
        elif size == 0:
            size = n - i
        if size < header or i + size > n:
            break
        if kind == b"uuid" and data[i + header : i + header + 16] == _C2PA_UUID:
            found.c2pa = True
        i += size
    packet = _scan_packet(data)
    if packet is not None:
        found.xmp.append(packet)
    return found


def _scan_packet(data: bytes) -> bytes | None:
    """XMP packet scanning (XMP part 3): the first ``<x:xmpmeta`` … ``</x:xmpmeta>`` in the bytes."""
    start = data.find(b"<x:xmpmeta")
    if start < 0:
        return None
    end = data.find(b"</x:xmpmeta>", start, start + MAX_XMP_BYTES + 64)
    if end < 0:
        return data[start : start + MAX_XMP_BYTES + 1]  # unterminated or too long: the parser says which
    return data[start : end + len(b"</x:xmpmeta>")]


# ---------------------------------------------------------------- XMP


class _BoundedBuilder(TreeBuilder):
    """A tree builder that refuses XML deeper or larger than the limits while it is parsed."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.count = 0

    def start(self, tag: Any, attrs: Any) -> Any:  # type: ignore[override]
        self.depth += 1
        self.count += 1
        if self.depth > MAX_XML_DEPTH:
            raise Unreadable(f"it is nested more than {MAX_XML_DEPTH} levels deep")
        if self.count > MAX_XML_ELEMENTS:
            raise Unreadable(f"it has more than {MAX_XML_ELEMENTS} elements")
        return super().start(tag, attrs)

    def end(self, tag: Any) -> Any:  # type: ignore[override]
        self.depth -= 1
        return super().end(tag)


def parse_xmp(packet: bytes) -> dict[str, Any]:
    """The provenance facts of one XMP packet: ``{types, unknown, creator_tool, provenance}``
    (``types``: IPTC digital source type codes). Raises ``Unreadable`` saying why."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
    from defusedxml.ElementTree import DefusedXMLParser

    if len(packet) > MAX_XMP_BYTES:
        raise Unreadable(f"it is {len(packet) // 1024} KB, over the {MAX_XMP_BYTES // 1024} KB limit")
    packet = packet.rstrip(b"\x00 \t\r\n")
    if not packet:
        raise Unreadable("it is empty")
    builder = _BoundedBuilder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    try:
        parser.feed(packet)
        root = parser.close()
    except (DTDForbidden, EntitiesForbidden):
        raise Unreadable("it declares a DTD or entities, which XMP never needs (refused unread: entity "
                         "expansion is a known attack)") from None
    except ExternalReferenceForbidden:
        raise Unreadable("it refers to external entities (refused unread)") from None
    except ParseError as exc:
        raise Unreadable(f"it is not well-formed XML ({_short(exc)})") from None
    except (ValueError, LookupError, UnicodeError) as exc:  # an unknown encoding, bad characters
        raise Unreadable(f"it is not well-formed XML ({_short(exc)})") from None

    dst_tag = f"{{{NS_IPTC_EXT}}}DigitalSourceType"
    tool_tag = f"{{{NS_XMP}}}CreatorTool"
    prov_tag = f"{{{NS_DCTERMS}}}provenance"
    resource = f"{{{NS_RDF}}}resource"
    raw_types: list[str] = []
    tools: list[str] = []
    provenance: list[str] = []
    for el in root.iter():
        for key, value in el.attrib.items():
            if key == dst_tag:
                raw_types.append(value)
            elif key == tool_tag:
                tools.append(value)
            elif key == prov_tag:
                provenance.append(value)
        text = (el.text or "").strip() or el.attrib.get(resource, "").strip()
        if el.tag == dst_tag and text:
            raw_types.append(text)
        elif el.tag == tool_tag and text:
            tools.append(text)
        elif el.tag == prov_tag and text:
            provenance.append(text)
    types: list[str] = []
    unknown: list[str] = []
    for raw in raw_types:
        code = dst_code(raw)
        if code is None or (code not in AI_TYPES and code not in NOT_AI_TYPES):
            unknown.append(raw.strip())
        elif code not in types:
            types.append(code)
    tool = " ".join(tools[0].split())[:200] if tools else None
    return {"types": types, "unknown": unknown, "creator_tool": tool or None, "provenance": provenance}


def xmp_packet(code: str) -> bytes:
    """A minimal XMP packet stating the IPTC digital source type ``code``."""
    if dst_code(code) != code:
        raise ValueError(f"not an IPTC digital source type code: {code!r}")
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        f' <rdf:RDF xmlns:rdf="{NS_RDF}">\n'
        f'  <rdf:Description rdf:about="" xmlns:Iptc4xmpExt="{NS_IPTC_EXT}">\n'
        f"   <Iptc4xmpExt:DigitalSourceType>{dst_uri(code)}</Iptc4xmpExt:DigitalSourceType>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    ).encode("utf-8")


# ---------------------------------------------------------------- C2PA


#: No network: remote manifests and certificate revocation (OCSP) are never fetched.
C2PA_SETTINGS = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    "core": {"max_decompressed_manifest_size_in_mb": MAX_MANIFEST_MB},
}


def read_c2pa(data: bytes, mime: str) -> _Label:
    """Read and verify the active C2PA manifest of ``data``. Raises ImportError without the
    c2pa-python package, ``Unreadable`` when the manifest cannot be read."""
    import c2pa

    try:
        context = c2pa.Context.from_dict(C2PA_SETTINGS)
        with c2pa.Reader(mime, io.BytesIO(data), context=context) as reader:
            store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        raise Unreadable(_short(exc)) from None
    except (ValueError, TypeError, OSError) as exc:
        raise Unreadable(_short(exc)) from None
    return _manifest_label(store)


def _manifest_label(store: Any) -> _Label:
    if not isinstance(store, dict):
        raise Unreadable("the manifest store is not a JSON object")
    manifests = store.get("manifests") if isinstance(store.get("manifests"), dict) else {}
    active = manifests.get(store.get("active_manifest")) if isinstance(store.get("active_manifest"), str) else None
    if not isinstance(active, dict):
        raise Unreadable("it has no active manifest")
    label = _Label("c2pa")
    label.generator = _generator(active)
    for assertion in active.get("assertions") or []:
        if not isinstance(assertion, dict) or not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        actions = (assertion.get("data") or {}).get("actions") if isinstance(assertion.get("data"), dict) else None
        for action in actions if isinstance(actions, list) else []:
            if not isinstance(action, dict):
                continue
            code = dst_code(action.get("digitalSourceType"))
            if code and code not in label.types:
                # the created action's type first: it says what the picture is
                label.types.insert(0, code) if action.get("action") == "c2pa.created" else label.types.append(code)
    state = str(store.get("validation_state") or "").lower() or None
    failures = []
    results = store.get("validation_results")
    if isinstance(results, dict) and isinstance(results.get("activeManifest"), dict):
        failures = [f.get("code") for f in results["activeManifest"].get("failure") or [] if isinstance(f, dict)]
    elif isinstance(store.get("validation_status"), list):
        failures = [f.get("code") for f in store["validation_status"] if isinstance(f, dict)]
    if state in ("valid", "trusted", "invalid"):
        label.validation = state
    else:  # an older reader: no state, only failure codes
        label.validation = "invalid" if [c for c in failures if c != "signingCredential.untrusted"] else "valid"
    label.valid = label.validation != "invalid"
    info = active.get("signature_info") if isinstance(active.get("signature_info"), dict) else {}
    who = info.get("common_name") or info.get("issuer")
    if who:
        issuer = info.get("issuer")
        label.signer = str(who)[:120] + (f" ({str(issuer)[:120]})" if issuer and issuer != who else "")
    return label


def _generator(manifest: dict[str, Any]) -> str | None:
    infos = manifest.get("claim_generator_info")
    if isinstance(infos, list) and infos and isinstance(infos[0], dict) and infos[0].get("name"):
        name = str(infos[0]["name"])
        version = infos[0].get("version")
        return (f"{name} {version}" if version else name)[:200]
    generator = manifest.get("claim_generator")
    return str(generator)[:200] if generator else None


# ---------------------------------------------------------------- what the record says


def recorded_ai(said: bool | None, prov: dict[str, Any]) -> tuple[bool, str | None]:
    """Whether a headshot is recorded as AI-generated, from what the person said (None:
    nothing) and what its file says; with the reason to warn, if any:

    * the file says AI: recorded as AI, unless the person said it is not (then they are
      believed, and warned: ``"ai_overridden"``);
    * the file says it is a capture (not AI) and the person said nothing: the default (AI)
      stays, with a warning (``"capture_label_ignored"``): a label can make the record
      stricter on its own, never looser;
    * otherwise: what the person said, else the default (AI)."""
    file_says = prov.get("ai_generated")
    if said is False and file_says is True:
        return False, "ai_overridden"
    if said is None and file_says is False:
        return True, "capture_label_ignored"
    return (True if said is None else said), None


def view(prov: dict[str, Any] | None) -> dict[str, Any]:
    """A stored provenance in its full shape for answers: every key present, ``status``
    ``not_read`` for a headshot registered before files were read, ``published_with_label``."""
    return {**empty("not_read"), **(prov or {}), "published_with_label": (prov or {}).get("published_with_label") is True}


# ---------------------------------------------------------------- export


#: Output formats of ``headshot export``, by the file name's extension.
EXPORT_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG"}


def export_format(name: str) -> str:
    """JPEG or PNG from a file name's extension; anything else is a usage error."""
    from pathlib import PurePath

    from freshness.errors import UsageError

    fmt = EXPORT_FORMATS.get(PurePath(name).suffix.lower())
    if fmt is None:
        raise UsageError(f"cannot tell the format from {name!r}: name the file .jpg, .jpeg or .png")
    return fmt


def export_code(headshot: Any) -> str:
    """The digital source type an exported headshot states: the file's own AI type when it had
    one (a composite stays a composite), else trainedAlgorithmicMedia."""
    code = (headshot.provenance or {}).get("digital_source_type")
    return code if code in AI_TYPES and code != "trainedAlgorithmicData" else "trainedAlgorithmicMedia"


def export_headshot(ctx: Any, headshot: Any, *, fmt: str, caption: bool) -> bytes:
    """The stored original of an AI-generated ``headshot`` re-encoded as ``fmt`` (JPEG or PNG)
    with its IPTC digital source type in XMP, no EXIF/GPS, and with ``caption`` a visible
    "AI-generated" caption. A headshot recorded as not AI-generated is refused (a usage error)."""
    from freshness import words
    from freshness.errors import NotFound, UsageError
    from freshness.faces.export import labelled_copy

    if not headshot.ai_generated:
        raise UsageError(words.export_not_ai(headshot.id))
    try:
        data = ctx.blobs.get(headshot.image_digest)
    except (FileNotFoundError, ValueError):
        raise NotFound(f"the original of headshot #{headshot.id} is missing from the file store") from None
    return labelled_copy(data, fmt=fmt, xmp=xmp_packet(export_code(headshot)),
                         caption=words.AI_CAPTION if caption else None, limits=ctx.decode_limits)
