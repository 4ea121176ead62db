"""``dmad generate`` end-to-end, in-process: tables, series and images with their labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from _cli import CliResult, run_cli
from PIL import Image


def run(*args: str, cwd: Path) -> CliResult:
    return run_cli("generate", *args, cwd=cwd)


def test_generate_table_csv(tmp_path):
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"]).to_csv(
        tmp_path / "t.csv", index=False
    )
    res = run("t.csv", "--kind", "global", "-n", "12", "-o", "out.csv", "--seed", "1", cwd=tmp_path)
    assert res.exit_code == 0, res.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == ["a", "b", "c", "label"] and len(out) == 212
    assert out["label"].sum() == 12
    assert res.stdout.startswith("wrote 212 tabular samples (12 labelled anomalous)")


def test_generate_series_npz_with_params(tmp_path):
    x = np.sin(np.arange(600) / 9)[:, None].repeat(2, axis=1)
    pd.DataFrame(x, columns=["u", "v"]).to_csv(tmp_path / "s.csv", index=False)
    res = run(
        "s.csv",
        "-k",
        "trend",
        "-n",
        "2",
        "-o",
        "s.npz",
        "-p",
        "length=20",
        "-p",
        "channels=[1]",
        cwd=tmp_path,
    )
    assert res.exit_code == 0, res.stderr
    z = np.load(tmp_path / "s.npz")
    assert z["data"].shape == (600, 2) and z["labels"].sum() == 40
    assert z["mask"][:, 1].sum() == 40 and not z["mask"][:, 0].any()


def test_generate_mixed_series(tmp_path):
    rng = np.random.default_rng(0)
    x = np.sin(np.arange(800) / 9)[:, None] + 0.1 * rng.normal(size=(800, 6))
    pd.DataFrame(x).to_csv(tmp_path / "s.csv", index=False)
    args = ("s.csv", "-k", "mixed", "-n", "8", "-o", "s.npz", "--modality", "timeseries")
    res = run(*args, cwd=tmp_path)
    assert res.exit_code == 0, res.stderr
    z = np.load(tmp_path / "s.npz")
    assert z["data"].shape == (800, 6)
    np.testing.assert_array_equal(z["mask"], ~np.isclose(z["data"], x, atol=1e-5))  # CSV: float32
    np.testing.assert_array_equal(z["labels"], z["mask"].any(axis=1))
    assert z["mask"].any(axis=1).sum() > 8 and not z["mask"].all(axis=1).any()  # a few channels
    bad = run(*args[:-1], "video", cwd=tmp_path)
    assert bad.exit_code == 2 and "video" in bad.stderr


def test_generate_images_folder_and_bad_kind(tmp_path):
    (tmp_path / "imgs").mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(50, 200, (32, 32), dtype=np.uint8)).save(
            tmp_path / "imgs" / f"{i}.png"
        )
    res = run("imgs", "-k", "scar", "-n", "5", "-o", "gen", cwd=tmp_path)
    assert res.exit_code == 0, res.stderr
    assert len(list((tmp_path / "gen" / "images").glob("*.png"))) == 5
    mask = np.asarray(Image.open(tmp_path / "gen" / "masks" / "0000_mask.png"))
    image = np.asarray(Image.open(tmp_path / "gen" / "images" / "0000.png"))
    source = np.asarray(Image.open(tmp_path / "imgs" / "0.png"))
    assert mask.max() == 255 and ((image != source) <= (mask > 0)).all()
    bad = run("imgs", "-k", "wobble", "-n", "1", "-o", "x", cwd=tmp_path)
    assert bad.exit_code == 2 and "wobble" in bad.stderr
