"""Writers: assert on what decoders read back (frames, pixels, durations, palette, sizes), on bytes, and on
what is left on disk after success, failure and Ctrl-C."""

import os
import re
import shutil
import struct
import subprocess
import warnings

import numpy as np
import pytest
from PIL import Image, ImageSequence

from emviz.errors import InputError
from emviz.writers import (
    WRITERS,
    BeamerWriter,
    GifWriter,
    HtmlWriter,
    Mp4Writer,
    PngFramesWriter,
    atomic_output,
    gif_palette,
    open_writer,
    save_figure,
    writer_for_path,
)

WHITE, BLACK, BLUE, ORANGE = (255, 255, 255), (0, 0, 0), (31, 119, 180), (255, 127, 14)
COLORS = [WHITE, BLACK, BLUE, ORANGE]
H, W = 48, 64


def line_art(n, *, still=()):
    """``n`` frames of flat line art in COLORS only: a static top rule, a moving square, a growing line.

    Frames whose index is in ``still`` repeat the previous frame exactly.
    """
    frames, t = [], 0
    for i in range(n):
        if i not in still:
            t += 1
        f = np.full((H, W, 3), WHITE, np.uint8)
        f[0, :] = BLACK
        f[10 + t % 20 : 16 + t % 20, 5 + 3 * t : 11 + 3 * t] = BLUE
        f[40, 2 : 4 + 4 * t] = ORANGE
        frames.append(f)
    return frames


def write(path, frames, durations=None, **options):
    with open_writer(path, **options) as w:
        for i, f in enumerate(frames):
            w.grab_frame(f, None if durations is None else durations[i])
    return w


def gif_blocks(data):
    """Parse a GIF's structure: global colour table, and the extensions and images in file order."""
    assert data[:6] == b"GIF89a" and data[-1:] == b";"
    packed = data[10]
    pos, table = 13, None
    if packed & 0x80:
        n = 2 << (packed & 7)
        table = np.frombuffer(data[13 : 13 + 3 * n], np.uint8).reshape(n, 3)
        pos += 3 * n
    blocks = []
    while data[pos] != 0x3B:
        if data[pos] == 0x21:  # extension: label, then data sub-blocks
            label, pos, body = data[pos + 1], pos + 2, b""
            while data[pos]:
                body += data[pos + 1 : pos + 1 + data[pos]]
                pos += data[pos] + 1
            blocks.append(("ext", label, body))
        else:
            assert data[pos] == 0x2C
            left, top, w, h, flags = struct.unpack("<HHHHB", data[pos + 1 : pos + 10])
            assert not flags & 0x80, "frames must use the global palette"
            pos, size = pos + 11, 0
            while data[pos]:
                size += data[pos]
                pos += data[pos] + 1
            blocks.append(("image", (left, top, w, h), size))
        pos += 1
    return table, blocks


def decode_pillow(path):
    with Image.open(path) as im:
        return [(np.asarray(f.convert("RGB")), f.info["duration"]) for f in ImageSequence.Iterator(im)]


def leftovers(folder, keep):
    return sorted(set(os.listdir(folder)) - set(keep))


# -- GIF -------------------------------------------------------------------------------------------


def test_gif_decodes_to_the_input_with_pillow_and_imageio(tmp_path):
    import imageio.v3 as iio

    frames = line_art(6)
    write(tmp_path / "a.gif", frames, required_colors=COLORS)
    decoded = decode_pillow(tmp_path / "a.gif")
    assert len(decoded) == 6
    for (got, _), want in zip(decoded, frames):
        np.testing.assert_array_equal(got, want)
    stack = iio.imread(tmp_path / "a.gif", index=None)
    assert stack.shape[:3] == (6, H, W)
    np.testing.assert_array_equal(stack[..., :3], np.stack(frames))
    with Image.open(tmp_path / "a.gif") as im:
        assert im.size == (W, H) and im.info["loop"] == 0


def test_gif_palette_has_required_colours_exactly_and_maps_to_nearest(tmp_path):
    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)  # far more colours than fit: median cut
    near_white = (254, 255, 255)
    required = COLORS + [near_white]
    frame = noisy.copy()
    for k, c in enumerate(required):
        frame[4 * k : 4 * k + 3, :8] = c
    write(tmp_path / "n.gif", [frame], required_colors=required, palette_frames=[noisy])
    table, _ = gif_blocks((tmp_path / "n.gif").read_bytes())
    assert len(table) == 256
    np.testing.assert_array_equal(table[: len(required)], np.array(required, np.uint8))
    assert len({tuple(c) for c in table[:255]}) == 255  # distinct colours, one index left for transparency
    (got, _), = decode_pillow(tmp_path / "n.gif")
    for k, c in enumerate(required):  # exact even beside a near-duplicate (a 4x4x4 cache would merge them)
        assert (got[4 * k : 4 * k + 3, :8] == c).all()
    # No dithering: every pixel is its nearest palette colour.
    pal = table[:255].astype(int)
    dist = ((frame.reshape(-1, 1, 3).astype(int) - pal[None]) ** 2).sum(-1)
    got_dist = ((frame.reshape(-1, 3).astype(int) - got.reshape(-1, 3)) ** 2).sum(-1)
    np.testing.assert_array_equal(got_dist, dist.min(axis=1))


def test_gif_palette_keeps_all_colours_of_flat_art():
    pal = gif_palette([BLUE], line_art(3))
    assert tuple(pal[0]) == BLUE and {tuple(c) for c in pal} == set(COLORS) and len(pal) == 4


def test_gif_durations_rounding_clamping_and_hold_on_last_only(tmp_path):
    frames = line_art(5)
    write(tmp_path / "d.gif", frames, [30, 55, 5, None, 100], fps=8, hold_last_ms=1000)
    durations = [d for _, d in decode_pillow(tmp_path / "d.gif")]
    # 10 ms units rounded half up, 20 ms at least, None = 1000/fps = 125 ms, hold only on the last.
    assert durations == [30, 60, 20, 130, 1100]


def test_gif_loop_count(tmp_path):
    write(tmp_path / "3.gif", line_art(2), loop=3)
    write(tmp_path / "once.gif", line_art(2), loop=None)
    with Image.open(tmp_path / "3.gif") as im:
        assert im.info["loop"] == 3
    assert b"NETSCAPE2.0" not in (tmp_path / "once.gif").read_bytes()


def test_gif_frame_difference_crops_and_keeps_unchanged_frames(tmp_path):
    frames = line_art(6, still={3})
    write(tmp_path / "f.gif", frames, required_colors=COLORS)
    table, blocks = gif_blocks((tmp_path / "f.gif").read_bytes())
    images = [b for b in blocks if b[0] == "image"]
    controls = [b[2] for b in blocks if b[0] == "ext" and b[1] == 0xF9]
    assert len(images) == len(controls) == 6
    assert images[0][1] == (0, 0, W, H)
    assert images[3][1][2:] == (1, 1)  # unchanged: a 1x1 frame, still counted
    for (_, (left, top, w, h), size), ctrl in zip(images[1:], controls[1:]):
        assert w * h < W * H // 3 and size < images[0][2]
        assert (ctrl[0] >> 2) & 7 == 1 and ctrl[0] & 1  # do not dispose; transparency on
        assert ctrl[3] >= 4  # the transparent index is not one of the colours in use
    assert len(decode_pillow(tmp_path / "f.gif")) == 6


def test_gif_copies_frames_so_a_reused_buffer_is_safe(tmp_path):
    buf = np.empty((H, W, 3), np.uint8)
    frames = line_art(3)
    with open_writer(tmp_path / "r.gif", required_colors=COLORS) as w:
        for f in frames:
            buf[...] = f  # like a canvas buffer redrawn in place
            w.grab_frame(buf)
    for (got, _), want in zip(decode_pillow(tmp_path / "r.gif"), frames):
        np.testing.assert_array_equal(got, want)


def test_gif_warns_above_max_bytes(tmp_path):
    with pytest.warns(UserWarning, match="fewer frames.*dpi.*fps") as record:
        with open_writer(tmp_path / "big.gif", max_bytes=100) as w:
            w.grab_frame(line_art(1)[0])
    assert (tmp_path / "big.gif").exists()
    assert record[0].filename == __file__  # points at the caller's with-block, not at emviz
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write(tmp_path / "ok.gif", line_art(2))


def test_same_input_gives_the_same_bytes(tmp_path):
    for run in ("1", "2"):  # same names in two folders: the HTML title is the file name
        for name in ("a.gif", "a.html"):
            write(tmp_path / run / name, line_art(4), required_colors=COLORS, labels=list("wxyz"))
    for name in ("a.gif", "a.html"):
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes()


# -- MP4, HTML, PNG frames -------------------------------------------------------------------------


def test_mp4_odd_size_padded_even_frame_count_and_deterministic(tmp_path):
    import imageio

    frames = [np.ascontiguousarray(f[:47, :63]) for f in line_art(4)]
    # At 10 fps: 100 ms -> 1 frame, 200 ms -> 2, None -> 1, last 100 + hold 300 -> 4: 8 in all.
    for name in ("a.mp4", "b.mp4"):
        write(tmp_path / name, frames, [100, 200, None, 100], fps=10, hold_last_ms=300)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()
    with imageio.get_reader(tmp_path / "a.mp4", "ffmpeg") as reader:
        assert reader.get_meta_data()["size"] == (64, 48)
        assert reader.count_frames() == 8
        first = reader.get_data(0)
    assert first.shape == (48, 64, 3)
    assert np.abs(first[:47, :63].astype(int) - frames[0]).mean() < 8  # lossy, but the same picture


def test_html_is_self_contained_with_frames_controls_labels_durations(tmp_path):
    labels = [f"iteration {i}" for i in range(3)]
    frames = line_art(3)
    w = write(tmp_path / "p.html", frames, [100, 150, 100], hold_last_ms=400, labels=labels,
              iterations=[0, 5, 9], log_likelihood=[-3.0, -2.0, -1.5])
    text = (tmp_path / "p.html").read_text()
    # Three frames (the first whole, then patches) and the poster (the last frame, whole).
    assert len(re.findall(r',"data:image/(?:png|webp);base64,', text)) == 3
    assert text.count('class="emviz-poster" src="data:image/') == 1
    assert 'class="emviz-player"' in text and 'data-frames="3"' in text and 'data-iteration="9"' in text
    assert 'class="emviz-play"' in text and text.count('type="range"') == 1 and " id=" not in text
    assert all(label in text for label in labels)
    assert '"durations":[100,150,500]' in text and '"iterations":[0,5,9]' in text
    assert "http://" not in text and "https://" not in text and "<link" not in text
    # The stored patches decode back to the frames (line art: every colour is in the palette).
    from emviz.writers.player import decode_frames

    for got, want in zip(decode_frames(w.data), frames, strict=True):
        np.testing.assert_array_equal(got, want)
    node = shutil.which("node")
    if node:  # the player script at least parses
        script = text.split("<script>")[1].split("</script>")[0]
        (tmp_path / "p.js").write_text(script)
        subprocess.run([node, "--check", str(tmp_path / "p.js")], check=True, timeout=30)


def test_html_label_count_must_match(tmp_path):
    with pytest.raises(InputError, match="labels"):
        write(tmp_path / "p.html", line_art(3), labels=["a", "b"])
    assert leftovers(tmp_path, []) == []


def test_png_folder_frames_and_atomic_replacement(tmp_path):
    target = tmp_path / "frames"
    target.mkdir()
    (target / "frame_0009.png").write_bytes(b"a stale frame of a longer, earlier run")
    frames = line_art(3)
    w = write(f"{target}/", frames)
    assert isinstance(w, PngFramesWriter)
    assert sorted(os.listdir(target)) == ["frame_0000.png", "frame_0001.png", "frame_0002.png"]
    np.testing.assert_array_equal(np.asarray(Image.open(target / "frame_0002.png")), frames[2])
    assert leftovers(tmp_path, ["frames"]) == []


def test_png_folder_never_replaces_a_folder_of_other_files(tmp_path):
    # The folder is replaced whole: a user's folder (or the one holding the config) must not be deleted.
    target = tmp_path / "notes"
    target.mkdir()
    (target / "thesis.tex").write_text("mine")
    with pytest.raises(InputError, match="holds other files \\(thesis.tex\\)"):
        write(f"{target}/", line_art(2))
    assert os.listdir(target) == ["thesis.tex"] and leftovers(tmp_path, ["notes"]) == []


# -- atomicity -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a.gif", "a.mp4", "a.html", "frames"])
@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize("existing", [False, True])
def test_failure_inside_the_writer_leaves_nothing_and_keeps_the_old_output(tmp_path, name, exc, existing):
    target = tmp_path / name
    if existing:
        if name == "frames":
            target.mkdir()
            (target / "frame_0000.png").write_bytes(b"old")
        else:
            target.write_bytes(b"old")
    with pytest.raises(exc):
        with open_writer(target) as w:
            for f in line_art(3):
                w.grab_frame(f)
            raise exc("interrupted")
    assert leftovers(tmp_path, []) == ([name] if existing else [])
    if existing:
        assert ((target / "frame_0000.png") if name == "frames" else target).read_bytes() == b"old"
        if name == "frames":
            assert os.listdir(target) == ["frame_0000.png"]


@pytest.mark.parametrize("directory", [False, True])
def test_atomic_output_commits_on_success_only(tmp_path, directory):
    target = tmp_path / ("d" if directory else "f.txt")
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(target, directory=directory) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(f".{target.stem}.{os.getpid()}.tmp")
            if directory:
                assert tmp.is_dir() and not target.exists()
            else:
                assert tmp.suffix == ".txt"
                tmp.write_text("half")
            raise KeyboardInterrupt
    assert leftovers(tmp_path, []) == []
    with atomic_output(target, directory=directory) as tmp:
        (tmp / "x" if directory else tmp).write_text("done")
    assert leftovers(tmp_path, []) == [target.name]


def test_no_frames_is_an_error_and_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        with open_writer(tmp_path / "e.gif"):
            pass
    assert leftovers(tmp_path, []) == []


def test_frames_must_be_rgb_uint8_of_one_size(tmp_path):
    with pytest.raises(ValueError, match=r"\(H, W, 3\).*buffer_rgba"):
        write(tmp_path / "x.gif", [np.zeros((H, W, 4), np.uint8)])
    with pytest.raises(ValueError, match="same size"):
        write(tmp_path / "x.gif", [np.zeros((H, W, 3), np.uint8), np.zeros((H, W + 1, 3), np.uint8)])
    assert leftovers(tmp_path, []) == []


# -- choosing a writer -----------------------------------------------------------------------------


def test_writer_chosen_by_suffix():
    assert WRITERS.names() == ["beamer", "gif", "html", "mp4", "png"]
    assert writer_for_path("x/anim.GIF") is GifWriter
    assert writer_for_path("slides/em.tex") is BeamerWriter
    assert writer_for_path("anim.mp4") is Mp4Writer
    assert writer_for_path("anim.html") is HtmlWriter
    assert writer_for_path("out/frames") is PngFramesWriter
    assert writer_for_path("out/frames.v2/") is PngFramesWriter


def test_every_suffix_of_the_formats_table_has_its_writer():
    from emviz.formats import ANIMATION_SUFFIXES, OUTPUT_FORMATS, STILL_SUFFIXES, output_kind

    assert ANIMATION_SUFFIXES == (".gif", ".mp4", ".html", ".tex", "") and STILL_SUFFIXES == (".png", ".pdf", ".svg")
    for suffix in ANIMATION_SUFFIXES:
        path = f"out/anim{suffix}"
        assert writer_for_path(path).name == OUTPUT_FORMATS[suffix].name
        assert output_kind(path) == ("folder" if suffix == "" else "animation")
    for suffix in STILL_SUFFIXES:
        with pytest.raises(InputError, match="unknown suffix"):
            writer_for_path(f"still{suffix}")  # a still is never an animation writer's
        assert output_kind(f"still{suffix.upper()}") == "still"
    with pytest.raises(InputError) as info:
        output_kind("a.jpg")
    assert str(info.value) == "cannot write '.jpg' files (did you mean '.png'?); use .gif, .mp4, .html, .tex, .png, .pdf, .svg or a folder"


def test_unknown_suffix_names_it_and_the_choices():
    with pytest.raises(InputError, match=r"'\.giff'.*did you mean '\.gif'.*\.gif, \.mp4, \.html"):
        open_writer("out/anim.giff")


def test_bad_options_are_input_errors():
    with pytest.raises(InputError, match="fps"):
        open_writer("a.gif", fps=0)
    with pytest.raises(InputError, match=r"required_colors\[1\]"):
        open_writer("a.gif", required_colors=[WHITE, (0.1, 0.2, 0.3)])


# -- stills ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".svg", ".pdf", ".png"])
def test_stills_are_byte_identical(tmp_path, suffix):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=50)
    ax.plot([0, 1, 2], [0, 1, 0], color="C0")
    ax.imshow(np.arange(12).reshape(3, 4), extent=(0, 1, 0, 1))
    ax.set_title("iteration 3")
    a = save_figure(fig, tmp_path / f"a{suffix}")
    b = save_figure(fig, tmp_path / f"b{suffix}")
    plt.close(fig)
    assert a.read_bytes() == b.read_bytes()
    assert b"CreationDate" not in a.read_bytes() and leftovers(tmp_path, [a.name, b.name]) == []


def test_unknown_still_suffix(tmp_path):
    import matplotlib.pyplot as plt

    fig = plt.figure()
    with pytest.raises(InputError, match=r"'\.jpg'.*\.png, \.pdf, \.svg"):
        save_figure(fig, tmp_path / "a.jpg")
    plt.close(fig)
    assert leftovers(tmp_path, []) == []


def test_gif_palette_size_follows_colors(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(3)]
    required = [(255, 255, 255), (0, 0, 0), (0, 114, 178)]
    path = tmp_path / "c.gif"
    with open_writer(path, required_colors=required, palette_frames=frames[:1], colors=40) as w:
        for f in frames:
            w.grab_frame(f)
    with Image.open(path) as im:
        palette = np.array(im.getpalette()[: 3 * 256]).reshape(-1, 3)
        used = {tuple(c) for c in np.asarray(im.convert("RGB")).reshape(-1, 3)}
    assert [tuple(c) for c in palette[:3]] == required
    assert len(used) <= 40
    with pytest.raises(InputError, match="colors: must be an integer from 8 to 255"):
        open_writer(tmp_path / "d.gif", colors=300)
