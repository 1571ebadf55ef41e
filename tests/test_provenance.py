"""Headshot provenance (issue 10): what a file says of its origin (IPTC digital source type in
XMP, C2PA manifests), read safely from hostile bytes, used by add_headshot and the disclosure
rule, shown by the CLI, the API and the dashboard, and written by `headshot export`.

Every file is made here (the real photos of ../shared/faces are only read)."""

from __future__ import annotations

import io
import json
import time
import zlib
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from PIL.PngImagePlugin import PngInfo

from freshness import provenance, rules, words
from freshness.provenance import read_provenance, xmp_packet

AI = "trainedAlgorithmicMedia"
DST = "http://cv.iptc.org/newscodes/digitalsourcetype/"
FACE = "people/barack_obama/obama.jpg"
GPS_IFD = 0x8825


# ---------------------------------------------------------------- files made here


def _google_style_xmp(code: str, tool: str | None = None) -> bytes:
    """The attribute form generators write (rdf:Description with the IPTC property as an attribute)."""
    tool_attr = f' xmp:CreatorTool="{tool}"' if tool else ""
    return (
        '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'xmlns:xmp="http://ns.adobe.com/xap/1.0/" Iptc4xmpExt:DigitalSourceType="{DST}{code}"{tool_attr}/>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def _image(size: tuple[int, int] = (48, 40)) -> Image.Image:
    return Image.new("RGB", size, (180, 120, 90))


def jpeg(xmp: bytes | None = None, im: Image.Image | None = None, **save) -> bytes:
    buf = io.BytesIO()
    (im or _image()).save(buf, "JPEG", **({"xmp": xmp} if xmp is not None else {}), **save)
    return buf.getvalue()


def png(xmp: bytes | None = None, *, compressed: bool = False, im: Image.Image | None = None) -> bytes:
    info = PngInfo()
    if xmp is not None:
        info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8", "replace"), zip=compressed)
    buf = io.BytesIO()
    (im or _image()).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def png_with(chunk: bytes) -> bytes:
    """A PNG with ``chunk`` inserted right after IHDR (for chunks Pillow will not write)."""
    data = png()
    ihdr_end = 8 + 25
    return data[:ihdr_end] + chunk + data[ihdr_end:]


def jpeg_app1_xmp(packet: bytes, base: bytes | None = None) -> bytes:
    """A JPEG (``base``, else a small one) with an APP1 XMP segment holding ``packet`` as given
    (at most 64 KB) right after its start."""
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    seg = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    data = base or jpeg()
    return data[:2] + seg + data[2:]


def webp(xmp: bytes) -> bytes:
    buf = io.BytesIO()
    _image().save(buf, "WEBP", xmp=xmp)
    return buf.getvalue()


def with_xmp(data: bytes, xmp: bytes | None, k: int = 0) -> bytes:
    """A real photo's pixels re-encoded as JPEG (at quality 95 - ``k``: other pixels, so not a
    duplicate of another variant) with ``xmp`` and nothing else of the original."""
    return jpeg(xmp, im=Image.open(io.BytesIO(data)).convert("RGB"), quality=95 - k)


# ---------------------------------------------------------------- reading: XMP


def test_it_reads_an_ai_source_type_from_a_jpeg_xmp_packet() -> None:
    for packet in (xmp_packet(AI), _google_style_xmp(AI, tool="Some Generator 2.1")):
        p = read_provenance(jpeg(packet))
        assert p["status"] == "found" and p["source"] == "xmp", p
        assert p["digital_source_type"] == AI and p["ai_generated"] is True and p["label_intact"] is True
        assert p["signed"] is False and p["valid"] is None and p["problems"] == []
    assert read_provenance(jpeg(_google_style_xmp(AI, tool="Some Generator 2.1")))["generator"] == "Some Generator 2.1"


def test_it_reads_an_ai_source_type_from_a_png_xmp_chunk_compressed_or_not() -> None:
    composite = "compositeWithTrainedAlgorithmicMedia"
    for compressed in (False, True):
        p = read_provenance(png(_google_style_xmp(composite), compressed=compressed))
        assert (p["status"], p["source"], p["digital_source_type"], p["ai_generated"]) == \
            ("found", "xmp", composite, True), p
    # ImageMagick's hex "Raw profile type xmp" in a zTXt chunk
    packet = xmp_packet(AI)
    raw = b"\nxmp\n" + str(len(packet)).encode() + b"\n" + packet.hex().encode() + b"\n"
    chunk = png_chunk(b"zTXt", b"Raw profile type xmp\x00\x00" + zlib.compress(raw))
    assert read_provenance(png_with(chunk))["digital_source_type"] == AI


def test_it_reads_webp_and_heic_packets() -> None:
    assert read_provenance(webp(xmp_packet(AI)))["digital_source_type"] == AI
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    try:
        _image((64, 64)).save(buf, "HEIF", xmp=xmp_packet(AI))
    except Exception as exc:  # pragma: no cover - an encoder missing from the wheel
        pytest.skip(f"pillow-heif cannot write HEIC here: {exc}")
    p = read_provenance(buf.getvalue())
    assert (p["status"], p["digital_source_type"], p["ai_generated"]) == ("found", AI, True), p


def test_a_camera_source_type_is_not_ai_and_no_label() -> None:
    p = read_provenance(jpeg(xmp_packet("digitalCapture")))
    assert (p["status"], p["digital_source_type"], p["ai_generated"], p["label_intact"]) == \
        ("found", "digitalCapture", False, False)


def test_a_file_without_provenance_says_none_and_unknown_bytes_too() -> None:
    for data in (jpeg(), png(), b"", b"not an image at all", b"\xff\xd8"):
        p = read_provenance(data)
        assert p == provenance.empty("none"), (data[:20], p)


def test_it_names_an_unknown_source_type_without_guessing() -> None:
    p = read_provenance(jpeg(_google_style_xmp("somethingNew")))
    assert p["status"] == "unreadable" and p["ai_generated"] is None
    assert "unknown digital source type" in p["problems"][0]


# ---------------------------------------------------------------- reading: hostile XMP


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + ']><x:xmpmeta xmlns:x="adobe:ns:meta/"><a>&lol9;</a></x:xmpmeta>'
).encode()
XXE = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
       b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><a>&e;</a></x:xmpmeta>')


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("malformed", jpeg_app1_xmp(b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>'), "not well-formed"),
    ("invalid bytes", jpeg_app1_xmp(b"\x00\xff\xfe garbage <<<>>>"), "not well-formed"),
    ("unbound prefix", jpeg_app1_xmp(b"<x:xmpmeta><Iptc4xmpExt:DigitalSourceType/></x:xmpmeta>"), "not well-formed"),
    ("billion laughs", jpeg_app1_xmp(BILLION_LAUGHS), "DTD or entities"),
    ("external entity", jpeg_app1_xmp(XXE), "DTD or entities"),
    ("deeply nested", jpeg_app1_xmp(b"<a>" * 5000 + b"</a>" * 5000), "nested more than 64"),
    ("too many elements", png(b"<x>" + b"<a/>" * 30_000 + b"</x>"), "more than 20000 elements"),
    ("huge", png(xmp_packet(AI)[:-20] + b" " * (2 * 1024 * 1024) + xmp_packet(AI)[-20:]), "over the 1024 KB limit"),
    ("zip bomb", png_with(png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00"
                                    + zlib.compress(b" " * (64 * 1024 * 1024), 9))), "inflates to more than"),
    ("truncated chunk", png_with(png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x01"))[:-30], "truncated"),
])
def test_hostile_or_broken_xmp_is_unreadable_with_its_reason_and_quick(name: str, data: bytes, reason: str) -> None:
    started = time.perf_counter()
    p = read_provenance(data)
    assert time.perf_counter() - started < 2.0, name
    assert p["status"] == "unreadable", (name, p)
    assert p["ai_generated"] is None and p["label_intact"] is False
    assert any(reason in problem for problem in p["problems"]), (name, p["problems"])
    assert "/etc/passwd" not in json.dumps(p) or name == "external entity"  # never the file's content
    assert "root:" not in json.dumps(p)


def test_a_good_label_still_counts_beside_a_broken_packet() -> None:
    data = jpeg_app1_xmp(b"<broken", jpeg(xmp_packet(AI)))  # a broken packet, then the good one
    p = read_provenance(data)
    assert p["status"] == "found" and p["ai_generated"] is True
    assert any("not well-formed" in problem for problem in p["problems"])


def test_every_truncation_and_bit_flip_of_labelled_files_reads_without_raising() -> None:
    for good in (jpeg(xmp_packet(AI)), png(xmp_packet(AI), compressed=True), webp(xmp_packet(AI))):
        for cut in range(0, len(good), max(1, len(good) // 200)):
            p = read_provenance(good[:cut])
            assert p["status"] in ("none", "found", "unreadable")
        for i in range(0, min(len(good), 1500), 7):
            bad = bytearray(good)
            bad[i] ^= 0xA5
            assert read_provenance(bytes(bad))["status"] in ("none", "found", "unreadable")


def test_an_internal_error_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(data: bytes) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(provenance, "_walk", boom)
    p = read_provenance(jpeg())
    assert p["status"] == "unreadable" and "RuntimeError: a bug" in p["problems"][0]


# ---------------------------------------------------------------- reading: C2PA


def _signer():
    """An ES256 signer with a certificate chain made here (a test CA and a signing certificate)."""
    c2pa = pytest.importorskip("c2pa", reason="the c2pa-python package is not installed")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Freshness Tests")])

    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    end = datetime(2035, 1, 1, tzinfo=timezone.utc)
    usage = dict(content_commitment=False, key_encipherment=False, data_encipherment=False, key_agreement=False,
                 encipher_only=False, decipher_only=False)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("Test CA")).issuer_name(name("Test CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, **usage), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(name("Test generator signer")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **usage), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    chain = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return c2pa, c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, pem, None))


def c2pa_signed(data: bytes, mime: str, code: str = AI) -> bytes:
    c2pa, signer = _signer()
    manifest = {"claim_generator_info": [{"name": "Test Headshot Generator", "version": "3.0"}],
                "title": "headshot",
                "assertions": [{"label": "c2pa.actions",
                                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": DST + code}]}}]}
    out = io.BytesIO()
    with c2pa.Builder(manifest) as builder:
        builder.sign(signer, mime, io.BytesIO(data), out)
    return out.getvalue()


def test_it_reads_and_verifies_a_signed_c2pa_manifest_offline() -> None:
    for data, mime in ((jpeg(), "image/jpeg"), (png(), "image/png")):
        p = read_provenance(c2pa_signed(data, mime))
        assert p["status"] == "found" and p["source"] == "c2pa", p
        assert (p["digital_source_type"], p["ai_generated"], p["label_intact"]) == (AI, True, True)
        assert p["signed"] is True and p["valid"] is True and p["validation"] == "valid"  # no trust list: not "trusted"
        assert p["generator"] == "Test Headshot Generator 3.0"
        assert p["signer"].startswith("Test generator signer")
        assert p["problems"] == []


def test_a_changed_signed_file_is_invalid_and_its_label_not_intact() -> None:
    data = bytearray(c2pa_signed(jpeg(), "image/jpeg"))
    data[-60] ^= 0xFF  # a pixel byte: the manifest's hash no longer matches
    p = read_provenance(bytes(data))
    assert (p["status"], p["source"], p["ai_generated"]) == ("found", "c2pa", True)
    assert p["valid"] is False and p["validation"] == "invalid" and p["label_intact"] is False
    assert any("does not validate" in problem for problem in p["problems"])


def test_a_camera_manifest_and_a_camera_xmp_say_not_ai() -> None:
    p = read_provenance(c2pa_signed(jpeg(xmp_packet("digitalCapture")), "image/jpeg", "digitalCapture"))
    assert (p["source"], p["digital_source_type"], p["ai_generated"], p["label_intact"]) == \
        ("c2pa", "digitalCapture", False, False)


def test_broken_or_fake_c2pa_data_is_unreadable_with_its_reason() -> None:
    pytest.importorskip("c2pa", reason="the c2pa-python package is not installed")
    box = (b"\x00\x00\x00\x30jumb\x00\x00\x00\x28jumdc2pa\x00\x11\x00\x10\x80\x00\xaa\x00\x38\x9b\x71\x03c2pa\x00"
           + b"garbage" * 8)
    payload = b"JP\x00\x01\x00\x00\x00\x01" + box
    fake = jpeg()[:2] + b"\xff\xeb" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg()[2:]
    signed = c2pa_signed(jpeg(), "image/jpeg")
    at = signed.find(b"c2pa.signature")
    scrambled = bytearray(signed)
    for k in range(at + 200, at + 260):
        scrambled[k] ^= 0x5A
    for name, data in (("fake box", fake), ("scrambled manifest", bytes(scrambled)),
                       ("fake caBX", png_with(png_chunk(b"caBX", box)))):
        p = read_provenance(data)
        assert p["status"] in ("unreadable", "found"), (name, p)
        if p["status"] == "unreadable":
            assert p["signed"] is False and p["label_intact"] is False
            assert any(problem.startswith("the C2PA manifest is unreadable: ") for problem in p["problems"]), p
        else:  # the store was read but its signature is broken
            assert p["valid"] is False and p["label_intact"] is False, (name, p)


def test_without_the_c2pa_package_a_manifest_is_present_not_verified(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    signed = c2pa_signed(jpeg(), "image/jpeg")
    monkeypatch.setitem(sys.modules, "c2pa", None)  # import c2pa now raises ImportError
    p = read_provenance(signed)
    assert (p["status"], p["source"], p["signed"], p["valid"], p["validation"]) == \
        ("found", "c2pa", True, None, "not_verified")
    assert p["ai_generated"] is None and p["label_intact"] is False
    assert p["problems"] == ["signed manifest present, not verified (the c2pa-python package is not installed)"]
    assert read_provenance(signed, verify_c2pa=False)["problems"] == ["signed manifest present, not verified"]


# ---------------------------------------------------------------- the real photos


@pytest.mark.faces
def test_the_real_portraits_carry_no_provenance(faces: Path) -> None:
    files = [p for p in sorted(faces.rglob("*")) if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp", ".heic")]
    assert len(files) > 50
    assert [(f.relative_to(faces), read_provenance(f.read_bytes())["status"]) for f in files
            if read_provenance(f.read_bytes())["status"] != "none"] == []
    assert any("/ai/" in str(f) and "/generated/" in str(f) for f in files)  # AI portraits among them, unlabelled


# ---------------------------------------------------------------- what is recorded


def test_the_file_decides_ai_only_towards_stricter() -> None:
    ai, camera, none = ({"ai_generated": v} for v in (True, False, None))
    assert provenance.recorded_ai(None, ai) == (True, None)
    assert provenance.recorded_ai(False, ai) == (False, "ai_overridden")
    assert provenance.recorded_ai(True, ai) == (True, None)
    assert provenance.recorded_ai(None, camera) == (True, "capture_label_ignored")
    assert provenance.recorded_ai(False, camera) == (False, None)
    assert provenance.recorded_ai(None, none) == (True, None)
    assert provenance.recorded_ai(False, none) == (False, None)


def _facts(**kw) -> rules.HeadshotFacts:
    return rules.HeadshotFacts(headshot_id=1, platform="linkedin", published_on=date(2026, 1, 5),
                               ai_generated=kw.pop("ai_generated", True), disclosed=kw.pop("disclosed", False), **kw)


def _disclosure(h: rules.HeadshotFacts) -> rules.DesiredReminder | None:
    person = rules.PersonFacts(person_id=1, sector="Healthcare", timezone="Europe/Berlin", checkin_every_days=30,
                               created_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    as_of = datetime(2026, 2, 1, tzinfo=timezone.utc)
    found = [d for d in rules.evaluate(person, [h], rules.Policy(), as_of) if d.kind == "disclosure_missing"]
    return found[0] if found else None


def test_an_intact_label_counts_as_disclosure_only_when_published_with_it() -> None:
    plain = _disclosure(_facts())
    assert plain is not None and "label" not in plain.message
    # labelled file, nobody said it is published with the label: still open, and the message says why
    labelled = _disclosure(_facts(label_intact=True, label_source="xmp"))
    assert labelled is not None
    assert labelled.details["label_intact"] is True and labelled.details["label_source"] == "xmp"
    assert "carries an AI label (the IPTC digital source type in its XMP)" in labelled.message
    assert "platforms often strip such metadata" in labelled.message
    assert "published with its label" in labelled.message
    # published with its intact label: disclosed by it
    assert _disclosure(_facts(label_intact=True, label_source="c2pa", published_with_label=True)) is None
    assert rules.disclosed_by(False, True, True) == "embedded_label"
    assert rules.disclosed_by(True, False, False) == "person"
    assert rules.disclosed_by(False, True, False) is None
    # said to be published with a label the file does not carry: open, and says to export one
    said = _disclosure(_facts(published_with_label=True))
    assert said is not None and said.details["published_with_label"] is True
    assert "carries no intact AI label" in said.message and "headshot export" in said.message
    # the messages render again from their stored details
    for d in (labelled, said):
        assert words.reminder_message("disclosure_missing", d.details, "Europe/Berlin") == d.message
    with pytest.raises(ValueError):
        _facts(label_intact="yes")


# ---------------------------------------------------------------- the service, the CLI, the API, the pages


def _gps_jpeg(faces: Path, xmp: bytes | None = None) -> bytes:
    """A real face with EXIF GPS coordinates and a camera model (and ``xmp`` if given)."""
    im = Image.open(faces / FACE).convert("RGB")
    exif = Image.Exif()
    exif[0x0110] = "Test Camera"
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)})
    data = jpeg(xmp, im=im, exif=exif, quality=95)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD)[1] == "N"  # the source does carry GPS
    return data


@pytest.mark.faces
def test_add_headshot_records_what_the_file_says(session, settings, faces: Path) -> None:
    from freshness.checkins import add_headshot
    from freshness.context import Context
    from freshness.people import add_person

    now = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    ctx = Context(settings)
    person, _ = add_person(session, "Ada", consent=True, now=now, sector="healthcare")
    original = (faces / FACE).read_bytes()
    # an AI label and nothing said: AI, label intact, no warning about it
    r = add_headshot(session, ctx, person, with_xmp(original, xmp_packet(AI)), platform="linkedin", now=now)
    h = r.headshot
    assert h.ai_generated is True and h.provenance["label_intact"] is True and h.provenance["source"] == "xmp"
    assert not [w for w in r.warnings if "label" in w]
    # --not-ai on an AI-labelled file: the person is believed, and warned
    r = add_headshot(session, ctx, person, with_xmp(original, _google_style_xmp(AI), 1), platform="resume", now=now,
                     ai_generated=False)
    assert r.headshot.ai_generated is False
    assert any("labels itself AI-generated" in w and "recorded as not AI-generated" in w for w in r.warnings)
    # a camera label alone does not make it "not AI"
    r = add_headshot(session, ctx, person, with_xmp(original, xmp_packet("digitalCapture"), 2), platform="website",
                     now=now)
    assert r.headshot.ai_generated is True and any("easy to write" in w for w in r.warnings)
    # hostile XMP never blocks the headshot: registered, with the reason
    r = add_headshot(session, ctx, person, jpeg_app1_xmp(BILLION_LAUGHS, with_xmp(original, None, 3)),
                     platform="portfolio", now=now)
    assert r.headshot.provenance["status"] == "unreadable"
    assert any("provenance could not be read" in w and "DTD or entities" in w for w in r.warnings)
    # published with its label, but the file has none: warned, not disclosed
    r = add_headshot(session, ctx, person, with_xmp(original, None, 4), platform="github", now=now,
                     published_with_label=True)
    assert r.headshot.provenance["status"] == "none" and r.headshot.provenance["published_with_label"] is True
    assert any("carries no intact AI label" in w for w in r.warnings)


@pytest.mark.faces
def test_export_writes_the_label_and_drops_exif_gps(session, settings, faces: Path) -> None:
    from freshness.checkins import add_headshot, update_headshot
    from freshness.context import Context
    from freshness.errors import UsageError
    from freshness.people import add_person
    from freshness.provenance import export_headshot

    now = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    ctx = Context(settings)
    person, _ = add_person(session, "Ada", consent=True, now=now)
    source = _gps_jpeg(faces)
    h = add_headshot(session, ctx, person, source, platform="linkedin", now=now).headshot
    assert h.provenance["status"] == "none"
    plain = Image.open(io.BytesIO(source)).convert("RGB")
    for fmt in ("JPEG", "PNG"):
        for caption in (False, True):
            out = export_headshot(ctx, h, fmt=fmt, caption=caption)
            back = read_provenance(out)
            assert (back["status"], back["source"], back["digital_source_type"], back["ai_generated"],
                    back["label_intact"]) == ("found", "xmp", AI, True, True), (fmt, back)
            im = Image.open(io.BytesIO(out))
            assert im.format == fmt and im.size == plain.size
            exif = im.getexif()
            assert exif.get_ifd(GPS_IFD) == {} and 0x0110 not in exif, (fmt, dict(exif))
            assert b"Test Camera" not in out and b"Exif\x00\x00" not in out
            # the caption darkens a band across the bottom; without it the bottom stays as it was
            bottom = (0, plain.height - 8, plain.width, plain.height)
            before = ImageStat.Stat(plain.crop(bottom).convert("L")).mean[0]
            after = ImageStat.Stat(im.convert("RGB").crop(bottom).convert("L")).mean[0]
            assert (after < before * 0.6) is caption, (fmt, caption, before, after)
    # the labelled file registers as AI-generated with an intact label (the reader recognises its own export)
    person2, _ = add_person(session, "Bea", consent=True, now=now)
    again = add_headshot(session, ctx, person2, export_headshot(ctx, h, fmt="JPEG", caption=False),
                         platform="linkedin", now=now, ai_generated=None).headshot
    assert again.ai_generated is True and again.provenance["label_intact"] is True
    # a composite keeps its own type
    comp = add_headshot(session, ctx, person2, with_xmp(source, _google_style_xmp("compositeWithTrainedAlgorithmicMedia")),
                        platform="resume", now=now).headshot
    assert read_provenance(export_headshot(ctx, comp, fmt="PNG", caption=False))["digital_source_type"] == \
        "compositeWithTrainedAlgorithmicMedia"
    # a headshot recorded as not AI-generated gets no AI label
    update_headshot(session, h.id, now=now, ai_generated=False)
    with pytest.raises(UsageError, match="recorded as not AI-generated"):
        export_headshot(ctx, h, fmt="JPEG", caption=False)


@pytest.mark.faces
def test_the_cli_shows_provenance_and_exports(ready: Path, faces: Path, tmp_path: Path) -> None:
    from tests.clitools import run, run_json

    run("person", "add", "Ada Lovelace", "--consent", "--sector", "finance")
    labelled = tmp_path / "ada-ai.jpg"
    labelled.write_bytes(with_xmp(_gps_jpeg(faces), xmp_packet(AI)))
    out = run("headshot", "add", "Ada Lovelace", labelled, "--platform", "linkedin", "--published", "2026-01-05").stdout
    assert "added headshot #1 for Ada Lovelace: linkedin, published 2026-01-05, AI-generated" in out
    assert "provenance: AI-generated according to its XMP (IPTC digital source type): trainedAlgorithmicMedia " \
           "(made by a generative AI model); AI label intact" in out
    plain = tmp_path / "plain.jpg"
    plain.write_bytes((faces / "people/barack_obama/obama2.jpg").read_bytes())
    run("headshot", "add", "Ada Lovelace", plain, "--platform", "resume", "--published", "2026-01-05")

    table = run("headshot", "list", "Ada Lovelace").stdout
    assert "provenance" in table.splitlines()[0]
    assert "xmp: trainedAlgorithmicMedia" in table and "none" in table
    listed = run_json("headshot", "list", "Ada Lovelace")
    assert listed[0]["provenance"]["digital_source_type"] == AI and listed[0]["disclosed_by"] is None
    assert listed[1]["provenance"]["status"] == "none"

    # status: the JSON, one human line, and the disclosure reminder that mentions the label
    status = run_json("status", "Ada Lovelace")
    head = status["headshots"][0]
    assert head["provenance"]["label_intact"] is True
    reminder = next(r for r in head["reminders"] if r["kind"] == "disclosure_missing")
    assert "carries an AI label" in reminder["message"] and "strip" in reminder["message"]
    text = run("status", "Ada Lovelace").stdout
    assert "  provenance: AI-generated according to its XMP" in text
    assert "  provenance: none found in the file" in text

    # published with its label: disclosed by it, the reminder goes
    changed = run_json("headshot", "set", "1", "--published-with-label")
    assert changed["changed"] == ["published_with_label"] and changed["disclosed_by"] == "embedded_label"
    after = run_json("status", "Ada Lovelace")["headshots"][0]
    assert not [r for r in after["reminders"] if r["kind"] == "disclosure_missing"]
    # on a file without a label it says so, and it does not count
    warned = run("headshot", "set", "2", "--published-with-label")
    assert "carries no intact AI label" in warned.stderr
    assert run_json("headshot", "list", "Ada Lovelace")[1]["disclosed_by"] is None

    # export: JPEG and PNG by the name, the label is read back, the GPS is gone
    for name, fmt in (("ada-labelled.jpg", "JPEG"), ("ada-captioned.png", "PNG")):
        target = tmp_path / name
        args = ["headshot", "export", "2", target] + (["--label"] if fmt == "PNG" else [])
        out = run(*args).stdout
        assert f"exported headshot #2 to {target}: IPTC digital source type trainedAlgorithmicMedia" in out
        assert read_provenance(target.read_bytes())["digital_source_type"] == AI
        assert Image.open(target).format == fmt and Image.open(target).getexif().get_ifd(GPS_IFD) == {}
    assert "name the file .jpg, .jpeg or .png" in run("headshot", "export", "1", tmp_path / "x.gif", code=2).stderr
    assert "no headshot with id 9" in run("headshot", "export", "9", tmp_path / "x.jpg", code=2).stderr
    run("headshot", "set", "2", "--not-ai")
    assert "recorded as not AI-generated" in run("headshot", "export", "2", tmp_path / "y.jpg", code=2).stderr
    # --not-ai on an AI-labelled file: recorded as said, with the warning
    other = tmp_path / "other.jpg"
    other.write_bytes(with_xmp((faces / "people/barack_obama/obama3.jpg").read_bytes(), xmp_packet(AI)))
    out = run("headshot", "add", "Ada Lovelace", other, "--platform", "website", "--not-ai").stdout
    assert "not AI-generated" in out and "warning: the file labels itself AI-generated" in out


@pytest.mark.faces
def test_the_api_and_the_dashboard_show_provenance_and_export(settings, faces: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from freshness.web import create_app
    from tests.clitools import run_json
    from tests.test_pages import signed_in

    token = run_json("person", "add", "Ada Lovelace", "--consent", "--sector", "legal")["token"]
    h = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings)) as client:
        data = with_xmp(_gps_jpeg(faces), _google_style_xmp(AI, tool="Some Generator"))
        r = client.post("/api/v1/headshots", files={"image": ("ada.jpg", data, "image/jpeg")},
                        data={"platform": "linkedin", "published": "2026-01-05"}, headers=h)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["ai_generated"] is True and body["provenance"]["generator"] == "Some Generator"
        assert body["provenance"]["source"] == "xmp" and body["provenance_text"].startswith("provenance: AI-generated")
        assert client.get("/api/v1/headshots/1", headers=h).json()["provenance"]["label_intact"] is True
        status = client.get("/api/v1/status", headers=h).json()
        assert status["headshots"][0]["provenance"]["digital_source_type"] == AI

        exported = client.get("/api/v1/headshots/1/export", params={"label": "true", "format": "png"}, headers=h)
        assert exported.status_code == 200 and exported.headers["content-type"] == "image/png"
        assert 'filename="headshot-1-ai-labelled-captioned.png"' in exported.headers["content-disposition"]
        assert read_provenance(exported.content)["digital_source_type"] == AI
        assert Image.open(io.BytesIO(exported.content)).getexif().get_ifd(GPS_IFD) == {}
        assert client.get("/api/v1/headshots/1/export", params={"format": "gif"}, headers=h).status_code == 422

        patched = client.patch("/api/v1/headshots/1", json={"published_with_label": True}, headers=h).json()
        assert patched["changed"] == ["published_with_label"] and patched["disclosed_by"] == "embedded_label"
        client.patch("/api/v1/headshots/1", json={"ai_generated": False}, headers=h)
        refused = client.get("/api/v1/headshots/1/export", headers=h)
        assert refused.status_code == 400 and refused.json()["code"] == "usage"
        client.patch("/api/v1/headshots/1", json={"ai_generated": True}, headers=h)

        # the dashboard: the provenance line and the download
        signed_in(client, token)
        page = client.get("/me").text
        assert "Provenance: AI-generated according to its XMP" in page
        assert 'action="/me/headshots/1/export"' in page and "Download labelled file" in page
        download = client.get("/me/headshots/1/export", params={"label": "1", "format": "jpeg"})
        assert download.status_code == 200 and download.headers["content-type"] == "image/jpeg"
        assert read_provenance(download.content)["label_intact"] is True
        assert "disclosed by its embedded label" in page
