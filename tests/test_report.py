"""`seglosses evaluate --plots`: per-case figures (native resolution, 3D projections in physical orientation,
legend, markers), persistence diagrams of probability maps, the HTML report (checked in headless Chromium
where it is installed), and the colour code shared with the demo."""

from __future__ import annotations

import html.parser
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from skimage.io import imread  # noqa: E402

from seglosses._plots import AGREEMENT, UNMATCHED, agreement_rgb, case_figure, metric_label  # noqa: E402
from seglosses.cli import column_order, main  # noqa: E402
from seglosses.io import write_nifti, write_png  # noqa: E402
from seglosses.synthetic import brick_wall  # noqa: E402
from seglosses.topology import betti_matching  # noqa: E402


def rgb_of(path: Path) -> np.ndarray:
    return imread(str(path))[..., :3]


def has_colour(rgb: np.ndarray, colour) -> bool:
    return bool(np.all(rgb == np.array(colour, np.uint8), axis=-1).any())


def wall_pair(seed: int = 0, shape=(64, 96)):
    _, label, _ = brick_wall(shape, seed=seed)
    return label.astype(bool)


def test_2d_figure_keeps_every_pixel_and_carries_its_legend(tmp_path):
    g = wall_pair()
    p = g.copy()
    # Extra and missed pixels that change no topology (the mortar is 3 pixels thick): mortar grown into the top
    # of a brick, and part of the wall's outer row missed.
    p[3:5, 10:20] = True
    p[0, 30:40] = False
    m = betti_matching(p.astype(float), g.astype(float))
    assert m.num_unmatched_prediction.sum() + m.num_unmatched_target.sum() == 0
    layout = case_figure(p, g, tmp_path / "a.png", "a", "T", metrics="Dice 0.99")
    top, left, height, width = layout["agreement map"]
    k = layout["scale"]
    assert (height, width) == (g.shape[0] * k, g.shape[1] * k) and k == 4  # 64 x 96 enlarged x4, never resampled
    image = rgb_of(tmp_path / "a.png")
    expected = np.kron(agreement_rgb(p, g), np.ones((k, k, 1), np.uint8))
    assert np.array_equal(image[top:top + height, left:left + width], expected)
    header = image[:top]
    for colour in (*AGREEMENT.values(), *UNMATCHED.values()):  # the legend is inside the image
        assert has_colour(header, colour)


def test_large_2d_images_are_not_downsampled(tmp_path):
    g = np.zeros((520, 485), bool)  # the 512^2 saved at 485 x 520
    g[100:400, 100:300] = True
    layout = case_figure(g, g, tmp_path / "b.png", "b", "T")
    top, left, height, width = layout["agreement map"]
    assert layout["scale"] == 1 and (height, width) == g.shape
    assert np.array_equal(rgb_of(tmp_path / "b.png")[top:top + height, left:left + width], agreement_rgb(g, g))


def test_unmatched_features_are_ringed_in_their_colours_on_any_background(tmp_path):
    g = wall_pair(1)
    p = g.copy()
    p[:, 40:44] = True  # mortar bridged over bricks: target holes lost (the target's loops unmatched)
    q = np.zeros_like(g)
    q[20:24, 70:74] = True  # a stray blob in the prediction: an unmatched component
    p |= q
    m = betti_matching(p.astype(float), g.astype(float))
    assert m.num_unmatched_prediction.sum() > 0
    layout = case_figure(p, g, tmp_path / "c.png", "c", "T")
    top, left, height, width = layout["agreement map"]
    panel = rgb_of(tmp_path / "c.png")[top - 8:top + height + 8, left - 8:left + width + 8]
    assert has_colour(panel, UNMATCHED["prediction"])
    # The ring's black halo: black pixels next to yellow ones even where the map is white or red.
    yellow = np.all(panel == UNMATCHED["prediction"], axis=-1)
    grown = np.zeros_like(yellow)
    grown[1:-1, 1:-1] = yellow[:-2, 1:-1] | yellow[2:, 1:-1] | yellow[1:-1, :-2] | yellow[1:-1, 2:]
    assert np.any(np.all(panel[grown & ~yellow] < 40, axis=-1))


def _blob_volume(shape=(40, 30, 6)):
    g = np.zeros(shape, bool)
    g[28:36, 5:25, 1:5] = True  # at high x (array axis 0)
    return g


@pytest.mark.parametrize("flip", [False, True])
def test_3d_figures_are_projections_in_physical_orientation_with_spacing(tmp_path, flip):
    g = _blob_volume()
    affine = np.diag([-1.0 if flip else 1.0, 1.0, 4.0, 1.0])  # thin z of 4 mm slices; x pointing left if flipped
    layout = case_figure(g, g, tmp_path / "v.png", "v", "T", affine=affine)
    k = layout["scale"]
    nx, ny, nz = g.shape
    along = {caption.split(":")[0]: box for caption, box in layout.items() if caption != "scale"}
    assert set(along) == {"along z (S)", "along x (R)", "along y (A)"}
    assert along["along z (S)"][2:] == (ny * k, nx * k)          # x right, y up
    assert along["along x (R)"][2:] == (ny * k, nz * 4 * k)      # z right (stretched by its 4 mm), y up
    assert along["along y (A)"][2:] == (nz * 4 * k, nx * k)      # x right, z up
    top, left, height, width = along["along z (S)"]
    axial = rgb_of(tmp_path / "v.png")[top:top + height, left:left + width]
    columns = np.nonzero(np.all(axial == 255, axis=-1).any(0))[0]
    # The blob lies at high array x: on the right (toward R) unless the affine's x axis points left.
    assert (columns.mean() < width / 2) == flip


def test_3d_figure_of_a_thin_volume_is_compact_and_one_axis_can_be_chosen(tmp_path):
    g = np.zeros((256, 256, 8), bool)  # the shape of vesselNN's stacks, smaller
    g[50:200, 120:130, 2:6] = True
    layout = case_figure(g, g, tmp_path / "t.png", "t", "T", affine=np.eye(4))
    height, width = imread(str(tmp_path / "t.png")).shape[:2]
    assert height < 600 and width < 900  # the vesselNN figure was 497 x 15871
    one = case_figure(g, g, tmp_path / "z.png", "t", "T", affine=np.eye(4), axes="z")
    assert [c for c in one if c != "scale"] == ["along z (S): x (R) →, y (A) ↑"]
    assert len(layout) == 4


def test_metric_labels_and_column_order():
    assert metric_label("betti_error_1") == "Betti error H1"
    assert metric_label("class2_betti_matching_error") == "class 2: Betti matching error"
    assert metric_label("local_betti_error_0") == "local Betti error H0"
    columns = ["hd95", "betti_error_2", "dice", "betti_matching_error", "betti_matching_error_0", "betti_error_0"]
    assert sorted(columns, key=column_order) == [
        "dice", "betti_error_0", "betti_error_2", "betti_matching_error_0", "betti_matching_error", "hd95"]


def test_demo_figure_has_column_headers_and_a_colour_legend():
    from seglosses.demo import figure

    rng = np.random.default_rng(0)
    labels = rng.random((2, 16, 16)) > 0.5
    picture = figure(rng.random((2, 16, 16)), labels, {"dice_ce": labels, "cldice": ~labels},
                     titles={"dice_ce": "Dice + CE", "cldice": "+ cldice"})
    grid_height = 2 * 16 * 4 + 2 * 4  # two rows of 16 px panels x4 and one separator
    header, legend = picture[:28], picture[28 + grid_height:]
    assert (header < 100).any() and (header == 255).mean() > 0.5  # black header text on white
    assert legend.shape[0] > 26  # a narrow figure wraps its legend onto several lines
    for colour in (*AGREEMENT.values(), *UNMATCHED.values()):  # every colour of the code in the legend
        assert (np.abs(legend.astype(int) - colour).sum(-1) < 30).any(), colour


def test_demo_figure_uses_the_same_colour_code():
    from seglosses._plots import ringed_agreement

    g = wall_pair(2, (32, 48))
    p = g.copy()
    p[0:2, 0:10] = ~p[0:2, 0:10]
    overlay = ringed_agreement(p, g)
    plain = agreement_rgb(p, g)
    same = np.all(overlay == plain, axis=-1)
    assert same.mean() > 0.8  # everything but the rings
    assert np.array_equal(overlay[p & g & same][0], AGREEMENT["prediction and target"])


# ------------------------------------------------------------------------------------------------- the report
class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources, self.links, self.cases, self.summary_rows, self.table = [], [], [], 0, None
        self.attrs_of_cases = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.table = attrs.get("id")
            if self.table == "cases":
                self.attrs_of_cases = attrs
        if tag == "img":
            self.sources.append(attrs["src"])
        if tag in ("a", "link", "script") and (attrs.get("href") or attrs.get("src")):
            self.links.append(attrs.get("href") or attrs.get("src"))
        if tag == "tr" and "data-case" in attrs:
            self.cases.append(attrs["data-case"])
        if tag == "tr" and self.table == "summary":
            self.summary_rows += 1


@pytest.fixture
def evaluated(tmp_path):
    """Evaluate masks, a uint8 probability map, a 3D NIfTI case and a case without ground truth, with --plots."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir(), pred.mkdir()
    for i in range(3):
        g = wall_pair(i)
        p = g.copy()
        if i == 1:
            p[:, 40:44] = True
        write_png(gt / f"case{i}.png", g)
        write_png(pred / f"case{i}.png", p)
    g = wall_pair(5)
    rng = np.random.default_rng(0)
    probability = np.clip(g * 0.8 + rng.normal(0, 0.15, g.shape), 0, 1)
    write_png(gt / "soft.png", g)
    write_png(pred / "soft.png", (probability * 255).astype(np.uint8))
    v = _blob_volume()
    write_nifti(gt / "vol.nii.gz", v.astype(np.uint8), np.diag([1.0, 1.0, 4.0, 1.0]))
    write_nifti(pred / "vol.nii.gz", v.astype(np.uint8), np.diag([1.0, 1.0, 4.0, 1.0]))
    write_png(pred / "lonely.png", g)
    plots = tmp_path / "plots"
    code = main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--out", str(tmp_path / "r.csv"), "--plots",
                 str(plots), "--quiet", "--metrics", "dice", "betti", "betti_matching"])
    assert code == 1  # "lonely" has no ground truth
    return plots


def test_report_is_self_contained_and_lists_every_case_worst_first(evaluated):
    text = (evaluated / "index.html").read_text()
    page = _Page()
    page.feed(text)
    assert "http://" not in text and "https://" not in text  # no network
    assert all((evaluated / src).is_file() for src in page.sources)
    assert all((evaluated / link).is_file() for link in page.links)
    assert "summary.png" in page.sources
    assert {"case0_features.png", "vol_features.png", "soft_diagram.png"} <= set(page.sources)
    assert not (evaluated / "case0_diagram.png").exists()  # binary masks: no persistence diagram
    # Failed first, then the largest Betti matching error first.
    errors = {c: v for c, v in csv_column(evaluated, "betti_matching_error").items()}
    assert page.cases[0] == "lonely"
    assert [errors[c] for c in page.cases[1:]] == sorted(errors.values(), reverse=True)
    assert errors["case1"] > 0 == errors["case0"]
    assert sorted(page.cases) == ["case0", "case1", "case2", "lonely", "soft", "vol"]
    assert page.summary_rows == 1 + 1 + 3 + 4  # header, Dice, Betti errors H0-H2, BM errors H0-H2 and total
    assert page.attrs_of_cases["data-sorted-by"] == "betti_matching_error"


def csv_column(plots: Path, column: str) -> dict[str, float]:
    import csv

    with open(plots.parent / "r.csv") as handle:
        return {r["case"]: float(r[column]) for r in csv.DictReader(handle) if r["status"] == "ok"}


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium not installed (Debian: apt-get install chromium)")
def test_report_sorts_and_renders_in_headless_chromium(evaluated, tmp_path):
    chromium = _chromium()
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}"]
    url = (evaluated / "index.html").as_uri() + "#sort=dice&dir=asc"
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    page = _Page()
    page.feed(dom)
    assert 'data-ready="1"' in dom  # the script ran
    assert page.attrs_of_cases["data-sorted-by"] == "dice" and page.attrs_of_cases["data-sort-dir"] == "asc"
    dice = csv_column(evaluated, "dice")
    ok = [c for c in page.cases if c in dice]
    assert [dice[c] for c in ok] == sorted(dice[c] for c in ok) and page.cases[-1] == "lonely"
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, "--window-size=1280,2400", f"--screenshot={shot}", url], capture_output=True,
                   timeout=120)
    image = rgb_of(shot)
    assert image.shape[:2] == (2400, 1280)
    assert has_colour(image, AGREEMENT["prediction only"])  # the figures are drawn on the page
