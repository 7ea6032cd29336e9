"""Exports that stand on their own: a pseudonymised label export writes de-identified copies of
its images under the names its labels use; nothing that identifies the patient reaches any
exported byte; the key file only where asked, never inside the export folder."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian
from test_export import corners

from vam_gui.cli import main
from vam_gui.core.annotation import PointState, ReviewState
from vam_gui.io import Study, load_radiograph
from vam_gui.io.export import (
    COCO_FILE,
    CSV_FILE,
    JSON_FILE,
    ExportError,
    ExportOptions,
    default_export_folder,
    export_study,
)

# Distinctive strings, each of which must appear in no exported byte
IDS = {
    "PatientName": "QZXFAMILY^QZXGIVEN", "PatientID": "PIDQZX77310", "PatientBirthDate": "19411123",
    "StudyInstanceUID": "1.2.826.0.1.3680043.8.498.13579246801357", "InstitutionName": "QZX SAINT HOSPITAL",
    "ReferringPhysicianName": "QZXREFDOC^ALBERT", "AccessionNumber": "ACCQZX99881",
    "InstitutionAddress": "QZX STREET 12", "OperatorsName": "QZXOPERATOR^ANNA", "StudyDescription": "QZXSTUDYDESC",
    "PerformingPhysicianName": "QZXPERFDOC^BEN", "StudyDate": "20190617", "StationName": "QZXSTATION",
}
SERIES_UID = "1.2.826.0.1.3680043.8.498.24680135792468"
SOP_UIDS = ("1.2.826.0.1.3680043.8.498.11223344556677", "1.2.826.0.1.3680043.8.498.99887766554411")
FOLDER = "QZXFAMILY_PIDQZX77310_spine"
PNG_TEXT = "QZXPNGAUTHOR"
SHAPES = ((220, 180), (200, 160))


def write_identified_dicom(path: Path, arr: np.ndarray, sop_uid: str) -> Path:
    """A DX file full of identifiers: header, a private block, the preamble, dates."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = sop_uid
    ds.file_meta.SourceApplicationEntityTitle = "QZXAETITLE"
    ds.preamble = b"QZXFAMILY PIDQZX77310".ljust(128, b"\0")
    ds.Modality, ds.SeriesInstanceUID = "DX", SERIES_UID
    ds.Rows, ds.Columns = arr.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation, ds.SamplesPerPixel = 0, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelSpacing = [0.2, 0.125]
    ds.ViewPosition = "AP"
    for keyword, value in IDS.items():
        setattr(ds, keyword, value)
    block = ds.private_block(0x0011, "QZX PRIVATE CREATOR", create=True)
    block.add_new(0x01, "LO", "QZXPRIVATEVALUE")
    ds.PixelData = arr.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def write_png_with_text(path: Path, arr: np.ndarray) -> Path:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", PNG_TEXT)
    Image.fromarray(arr.astype(np.uint16)).save(path, pnginfo=info)
    return path


def _accept_all(study: Study) -> None:
    for info in study.list_images():
        xy = corners(study.schema, info.height, info.width, 7)
        points = {i: PointState(xy[i, 0], xy[i, 1], True, "placed") for i in range(study.schema.k)}
        study.apply_edit(info.image_id, user="rita", kind="move", points=points,
                         review=ReviewState("accepted", None, "rita"))


@pytest.fixture
def mixed_study(tmp_path):
    """Two DICOM images of one study (one series) and a 16-bit PNG with a text chunk, in a
    folder and under file names that carry the patient's name and id."""
    folder = tmp_path / "source" / FOLDER
    folder.mkdir(parents=True)
    rng = np.random.default_rng(11)
    for n, (shape, uid) in enumerate(zip(SHAPES, SOP_UIDS)):
        arr = np.clip(rng.normal(1500, 300, shape), 0, 4095)
        write_identified_dicom(folder / f"QZXFAMILY_PIDQZX77310_{n}.dcm", arr, uid)
    write_png_with_text(folder / "QZXFAMILY_PIDQZX77310_png.png", rng.integers(0, 60000, (150, 120)))
    study = Study.create(tmp_path / "source" / "QZXFAMILY.vamstudy")
    assert len(study.add_images([folder]).added) == 3
    _accept_all(study)
    yield study
    study.close()


def needles() -> list[bytes]:
    words = [*IDS.values(), SERIES_UID, *SOP_UIDS, FOLDER, "QZXFAMILY", "PIDQZX77310", "QZXGIVEN", PNG_TEXT,
             "QZXPRIVATE", "QZXAETITLE", "QZXREFDOC", "QZXOPERATOR", "QZXPERFDOC"]
    out = []
    for word in words:
        for variant in {word, word.replace("^", " "), word.lower()}:
            out += [variant.encode("ascii"), variant.encode("utf-16-le"), variant.encode("utf-16-be")]
    return out


def assert_no_identifier(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert files
    wanted = needles()
    for path in files:
        blobs = [path.relative_to(folder).as_posix().encode(), path.read_bytes()]
        if path.suffix == ".npz":
            import zipfile

            with zipfile.ZipFile(path) as zf:
                blobs += [zf.read(n) + n.encode() for n in zf.namelist()]
        for blob in blobs:
            for needle in wanted:
                assert needle not in blob, (path.name, needle)
    return files


def referenced_files(fmt: str, out: Path) -> list[str]:
    if fmt == "json":
        return [img["file"] for img in json.loads((out / JSON_FILE).read_text())["images"]]
    if fmt == "coco":
        return [img["file_name"] for img in json.loads((out / COCO_FILE).read_text())["images"]]
    with open(out / CSV_FILE, newline="") as fh:
        return sorted({row["file"] for row in csv.DictReader(fh)})


@pytest.mark.parametrize("fmt", ["json", "coco", "csv"])
def test_every_referenced_image_is_in_the_export_folder_with_its_pixels(mixed_study, tmp_path, fmt):
    out = tmp_path / "export"
    report = export_study(mixed_study, fmt, out, ExportOptions())
    assert report.images == 3 and not report.skipped
    names = referenced_files(fmt, out)
    assert len(names) == 3 and all(name.startswith("img-") for name in names)
    assert sorted(Path(n).suffix for n in names) == [".dcm", ".dcm", ".png"]
    by_pseudonym = {}
    for info in mixed_study.list_images():
        by_pseudonym[mixed_study.image_path(info.image_id)] = info
    for name in names:
        copy = out / name
        assert copy.is_file(), name
        assert copy in report.files
    # the copies hold the source pixels, and our reader sees the same image (size, spacing)
    for info in mixed_study.list_images():
        source = mixed_study.image_path(info.image_id)
        copy = next(out / n for n in names if load_radiograph(out / n).width == info.width
                    and load_radiograph(out / n).height == info.height)
        if source.suffix == ".png":
            a = cv2.imread(str(source), cv2.IMREAD_UNCHANGED)
            b = cv2.imread(str(copy), cv2.IMREAD_UNCHANGED)
            assert b.dtype == np.uint16 and np.array_equal(a, b)
        else:
            assert pydicom.dcmread(copy).PixelData == pydicom.dcmread(source).PixelData
            assert load_radiograph(copy).spacing == load_radiograph(source).spacing


def test_keep_names_writes_no_images(mixed_study, tmp_path):
    out = tmp_path / "named"
    report = export_study(mixed_study, "json", out, ExportOptions(keep_names=True))
    assert [p.name for p in out.iterdir()] == [JSON_FILE] and report.files == [out / JSON_FILE]
    files = referenced_files("json", out)
    assert sorted(files) == sorted(info.file_name for info in mixed_study.list_images())


def test_no_identifier_in_any_exported_byte(mixed_study, tmp_path):
    root = tmp_path / "exports"
    for fmt in ("json", "coco", "csv", "dataset"):
        export_study(mixed_study, fmt, root / fmt, ExportOptions(size=64))
    report = export_study(mixed_study, "dicom-sr", root / "sr", ExportOptions(deidentify_sr=True))
    assert report.images == 2
    files = assert_no_identifier(root)
    assert sum(p.suffix == ".dcm" for p in files) == 3 * 2 + 2 * 2  # 3 label exports' copies; SR copies + SRs


def test_deidentified_copy_follows_the_basic_profile(mixed_study, tmp_path):
    out = tmp_path / "e"
    export_study(mixed_study, "json", out, ExportOptions())
    copies = sorted(out.glob("*.dcm"))
    assert len(copies) == 2
    first, second = (pydicom.dcmread(p) for p in copies)
    for ds in (first, second):
        assert ds.PatientIdentityRemoved == "YES" and ds.DeidentificationMethod
        assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
        assert ds.LongitudinalTemporalInformationModified == "REMOVED"
        assert ds.PatientName == "" and ds.PatientBirthDate == "" and ds.StudyDate == ""
        assert not any(elem.tag.is_private for elem in ds)
        for keyword in ("InstitutionName", "ReferringPhysicianName", "OperatorsName", "StudyDescription",
                        "InstitutionAddress", "PerformingPhysicianName", "StationName"):
            assert keyword not in ds or not ds[keyword].value, keyword
        assert ds.preamble == b"\0" * 128
        assert "SourceApplicationEntityTitle" not in ds.file_meta
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.ViewPosition == "AP" and ds.Modality == "DX"
    # new UIDs, consistent within the export: one study, one series, two instances
    assert first.StudyInstanceUID == second.StudyInstanceUID != IDS["StudyInstanceUID"]
    assert first.SeriesInstanceUID == second.SeriesInstanceUID != SERIES_UID
    assert first.SOPInstanceUID != second.SOPInstanceUID
    assert {first.SOPInstanceUID, second.SOPInstanceUID}.isdisjoint(SOP_UIDS)
    assert first.PatientID == second.PatientID and first.PatientID not in ("", IDS["PatientID"])
    # and stable across exports of the study (labels and images of two exports can be merged)
    export_study(mixed_study, "coco", tmp_path / "again", ExportOptions())
    again = {pydicom.dcmread(p).SOPInstanceUID for p in (tmp_path / "again").glob("*.dcm")}
    assert again == {first.SOPInstanceUID, second.SOPInstanceUID}


def test_key_file_only_where_asked(mixed_study, tmp_path):
    out = tmp_path / "export"
    export_study(mixed_study, "json", out, ExportOptions())
    assert not list(tmp_path.rglob("*key*"))
    key = tmp_path / "private" / "key.csv"
    report = export_study(mixed_study, "coco", tmp_path / "export2", ExportOptions(key_file=key))
    assert report.key_file == key and key.is_file()
    rows = list(csv.DictReader(key.open(newline="")))
    assert len(rows) == 3
    originals = {str(mixed_study.image_path(i.image_id).absolute()) for i in mixed_study.list_images()}
    assert {r["original_path"] for r in rows} == originals
    exported = {Path(n).stem for n in referenced_files("coco", tmp_path / "export2")}
    assert {r["pseudonym"] for r in rows} == exported
    assert_no_identifier(tmp_path / "export2")  # the key went elsewhere


@pytest.mark.parametrize("inside", ["key.csv", "sub/key.csv", "."])
def test_key_file_inside_the_export_folder_is_refused(mixed_study, tmp_path, inside):
    out = tmp_path / "export"
    with pytest.raises(ExportError, match="must not be inside the export folder"):
        export_study(mixed_study, "json", out, ExportOptions(key_file=out / inside))
    assert not out.exists()  # refused before anything was written


def test_cli_key_file_refused_with_one_line(mixed_study, tmp_path, capsys):
    path = mixed_study.path
    mixed_study.close()
    out = tmp_path / "cli"
    code = main(["export", str(path), "-f", "csv", "-o", str(out), "--key-file", str(out / "k.csv"), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "inside the export folder" in err
    assert main(["export", str(path), "-f", "csv", "-o", str(out), "--key-file", str(tmp_path / "k.csv"),
                 "-q"]) == 0
    assert (tmp_path / "k.csv").is_file() and len(list(out.glob("img-*"))) == 3
    assert main(["export", str(path), "-f", "json", "-o", str(tmp_path / "bare"), "--no-images", "-q"]) == 0
    assert [p.name for p in (tmp_path / "bare").iterdir()] == [JSON_FILE]


def test_default_export_folder(tmp_path, monkeypatch):
    from vam_gui.core.settings import data_dir

    study = Study.create(tmp_path / "knees.vamstudy")
    assert default_export_folder(study) == tmp_path / "knees-export"
    study.close()
    docs = tmp_path / "Docs"
    monkeypatch.setattr("platformdirs.user_documents_path", lambda: docs)
    inside = data_dir() / "sample"
    inside.mkdir(parents=True)
    sample = Study.create(inside / "sample.vamstudy")
    assert default_export_folder(sample) == docs / "vam-gui" / "sample"
    sample.close()
    # a study the user may not write (read-only media, a shared folder): documents too
    monkeypatch.setattr("vam_gui.io.export.folders._writable", lambda path: False)
    assert default_export_folder(tmp_path / "ro.vamstudy") == docs / "vam-gui" / "ro"


def test_compressed_dicom_copy_keeps_its_encoded_pixels(tmp_path):
    from pydicom.uid import RLELossless

    folder = tmp_path / "rle"
    folder.mkdir()
    arr = np.clip(np.random.default_rng(4).normal(1500, 300, (120, 90)), 0, 4095).astype(np.uint16)
    path = write_identified_dicom(folder / "a.dcm", arr, SOP_UIDS[0])
    ds = pydicom.dcmread(path)
    ds.compress(RLELossless)
    ds.save_as(path, enforce_file_format=True)
    study = Study.create(tmp_path / "rle.vamstudy")
    study.add_images([folder])
    _accept_all(study)
    export_study(study, "json", tmp_path / "out", ExportOptions())
    copy, = (tmp_path / "out").glob("*.dcm")
    out = pydicom.dcmread(copy)
    assert out.file_meta.TransferSyntaxUID == RLELossless
    assert out.PixelData == pydicom.dcmread(path).PixelData  # the encoded bytes, not re-encoded
    assert np.array_equal(out.pixel_array, arr)
    assert_no_identifier(tmp_path / "out")
    study.close()


def test_a_png_of_critical_chunks_only_is_copied_as_it_is(tmp_path):
    """A PNG with nothing but IHDR/IDAT/IEND is its own metadata-free copy; any ancillary chunk
    (text, time, gamma, transparency), grey + alpha, a bad CRC or trailing bytes: re-encoded."""
    from PIL import Image

    from vam_gui.io.export.images import _bare_png, raster_copy

    rng = np.random.default_rng(3)
    bare = tmp_path / "bare.png"
    cv2.imwrite(str(bare), rng.integers(0, 60000, (40, 30)).astype(np.uint16))
    data, suffix = raster_copy(bare)
    assert suffix == ".png" and data == bare.read_bytes() and _bare_png(data)
    texted = write_png_with_text(tmp_path / "text.png", rng.integers(0, 60000, (40, 30)))
    data, suffix = raster_copy(texted)
    assert PNG_TEXT.encode() not in data and b"tEXt" not in data
    assert np.array_equal(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED),
                          cv2.imread(str(texted), cv2.IMREAD_UNCHANGED))
    grey_alpha = tmp_path / "la.png"
    Image.fromarray(rng.integers(0, 255, (20, 20, 2)).astype(np.uint8), "LA").save(grey_alpha)
    raw = bare.read_bytes()
    crc_broken = raw[:-5] + bytes([raw[-5] ^ 1]) + raw[-4:]
    for other in (texted.read_bytes(), grey_alpha.read_bytes(), raw + b"QZX", crc_broken, raw[:40], b"GIF89a"):
        assert not _bare_png(other)


def test_a_cancelled_export_leaves_no_copy_behind(mixed_study, tmp_path):
    out = tmp_path / "cancelled"
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2  # after two copies were made

    with pytest.raises(InterruptedError):
        export_study(mixed_study, "json", out, ExportOptions(), cancel=cancel)
    assert not out.exists() or list(out.iterdir()) == []


def _png_with_idat(raw: bytes, idat: bytes) -> bytes:
    """``raw`` (IHDR, IDAT..., IEND) with its pixel data replaced by ``idat`` in one chunk, CRCs right."""
    import struct
    import zlib

    ihdr_end = 8 + 12 + struct.unpack_from(">I", raw, 8)[0]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return raw[:ihdr_end] + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("damage", ["cut", "extra rows", "bad filter", "not zlib"])
def test_a_bare_png_whose_pixels_do_not_inflate_to_its_rows_is_refused(tmp_path, damage):
    """A bare PNG is copied as it is only once its pixel data inflates to exactly its rows, each
    led by a filter type 0-4; CRCs right but the data wrong: refused like an undecodable file."""
    import struct
    import zlib

    from vam_gui.io.export.images import _bare_png, raster_copy

    good = tmp_path / "good.png"
    cv2.imwrite(str(good), np.random.default_rng(5).integers(0, 255, (24, 17)).astype(np.uint8))
    raw = good.read_bytes()
    width, height = struct.unpack_from(">II", raw, 16)
    rows = bytearray(b"".join(b"\x00" + bytes(range(width)) for _ in range(height)))
    clean = bytes(rows)
    assert raster_copy(good)[0] == raw
    if damage == "cut":
        idat = zlib.compress(bytes(rows))[:-9]
    elif damage == "extra rows":
        idat = zlib.compress(bytes(rows) + bytes(1 + width))
    elif damage == "bad filter":
        rows[(1 + width) * 3] = 9
        idat = zlib.compress(bytes(rows))
    else:
        idat = b"\x00" * 40
    broken = tmp_path / "broken.png"
    broken.write_bytes(_png_with_idat(raw, idat))
    assert _bare_png(broken.read_bytes())  # every chunk well formed: only the pixel data is wrong
    with pytest.raises(ValueError):
        raster_copy(broken)
    fine = tmp_path / "fine.png"
    fine.write_bytes(_png_with_idat(raw, zlib.compress(clean)))
    assert raster_copy(fine)[0] == fine.read_bytes()


def test_an_interlaced_or_undefined_bare_png_is_left_to_the_decoder(tmp_path):
    import struct
    import zlib

    from vam_gui.io.export.images import _rows_inflate

    path = tmp_path / "a.png"
    cv2.imwrite(str(path), np.zeros((8, 8), np.uint8))
    raw = bytearray(path.read_bytes())
    assert _rows_inflate(bytes(raw)) is True
    for offset, value in ((28, 1), (25, 5)):  # interlaced; colour type 5 (undefined)
        changed = bytearray(raw)
        changed[offset] = value
        changed[29:33] = struct.pack(">I", zlib.crc32(bytes(changed[12:29])))
        assert _rows_inflate(bytes(changed)) is None


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no named pipes here")
def test_a_pipe_in_place_of_an_image_is_skipped_not_read(mixed_study, tmp_path):
    """The copy pool reads an image's file once, whole: only after checking that it is a
    regular file (reading a pipe would wait for a writer for ever)."""
    import os

    png = next(i for i in mixed_study.list_images() if i.file_name.endswith(".png"))
    path = mixed_study.image_path(png.image_id)
    path.unlink()
    os.mkfifo(path)
    report = export_study(mixed_study, "json", tmp_path / "out", ExportOptions())
    assert report.images == 3 and len(report.skipped) == 1
    assert report.skipped[0][0].endswith(".png") and "not a regular file" in report.skipped[0][1]
    assert sorted(p.suffix for p in (tmp_path / "out").iterdir()) == [".dcm", ".dcm", ".json"]


def test_the_copy_pool_gives_what_one_thread_gives(mixed_study, tmp_path, monkeypatch):
    """Names, bytes, notes and skips in the images' order, however many threads make the copies."""
    import vam_gui.io.export.images as images
    import vam_gui.io.export.labels as labels
    import vam_gui.io.labels_file as labels_file

    for module in (labels, labels_file):  # both exports "made" in the same second, whenever they run
        monkeypatch.setattr(module, "timestamp", lambda: "2026-11-29T12:00:00+00:00")
    mixed_study.image_path(mixed_study.list_images()[1].image_id).unlink()  # one skipped, in the middle
    results = {}
    for threads in (1, 4):
        monkeypatch.setattr(images, "COPY_THREADS", threads)
        out = tmp_path / f"t{threads}"
        report = export_study(mixed_study, "json", out, ExportOptions())
        results[threads] = (report.skipped, [p.name for p in report.files], report.notes,
                            {p.name: p.read_bytes() for p in out.iterdir()})
    assert results[1] == results[4]
    assert len(results[4][0]) == 1 and len(results[4][3]) == 3
