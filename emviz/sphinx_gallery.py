"""A sphinx-gallery image scraper: examples that call ``emviz.animate`` or ``emviz.render`` get their
animation embedded in the built page.

In ``conf.py``::

    import emviz.sphinx_gallery

    sphinx_gallery_conf = {
        "image_scrapers": ("matplotlib", emviz.sphinx_gallery.scraper),
        ...
    }

After each code block, :func:`scraper` takes what the block made: every GIF, PNG or SVG that
``emviz.render`` (or ``Animation.save``) wrote is copied into the gallery's images, and every
:class:`~emviz.notebook.Animation` that was not saved as an image is saved there as a GIF. It follows
sphinx-gallery's scraper protocol, as its matplotlib scraper does: file names from
``block_vars["image_path_iterator"]``, reST from :func:`sphinx_gallery.scrapers.figure_rst`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["scraper"]

#: Outputs that a page shows as an image.
IMAGE_SUFFIXES = (".gif", ".png", ".svg")


def scraper(block, block_vars, gallery_conf, **kwargs) -> str:
    """Embed the animations and stills that emviz made in this code block (sphinx-gallery's protocol).

    Parameters
    ----------
    block : sphinx_gallery.py_source_parser.Block
        The code block that ran.
    block_vars : dict
        Its variables; ``image_path_iterator`` names the files to write.
    gallery_conf : dict
        sphinx-gallery's configuration (``src_dir`` for the reST paths).

    Returns
    -------
    str
        reST that shows the images, or ``""`` when the block made none.
    """
    from sphinx_gallery.scrapers import figure_rst

    from emviz._recent import take

    made = take()
    files = [item for item in made if isinstance(item, Path)]
    images = []
    for item in made:
        if isinstance(item, Path):
            if item.suffix.lower() not in IMAGE_SUFFIXES or not item.is_file():
                continue
            target = Path(next(block_vars["image_path_iterator"])).with_suffix(item.suffix.lower())
            shutil.copyfile(item, target)
        elif not any(path in files for path in item._saved_images):  # else its saved image shows it
            target = Path(next(block_vars["image_path_iterator"])).with_suffix(".gif")
            item.save(target, progress=False)
            take()  # what that save recorded is this embedding, not a file of the example's
        else:
            continue
        images.append(str(target))
    return figure_rst(images, gallery_conf["src_dir"])
