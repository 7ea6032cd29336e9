"""vam-gui: review, correct and retrain vertebral corner landmarks on spine radiographs.

Glossary (the words the code uses):

Radiograph
    One image as read from disk (DICOM or PNG/JPEG/TIFF): pixels after the modality LUT
    and MONOCHROME1 inversion, pixel spacing (dy, dx) in mm or None, display window, a
    stable image id. ``vam_gui.io.load_radiograph``.
Schema
    The ordered list of K keypoints (vertebra, corner), the vertebra names and the outline
    edges. Nothing hard-codes K. ``vam_gui.core.schema.load_schema``.
Letterbox
    The map between original pixels and the S x S model square: uniform scale
    s = S / max(H, W), image centred, zero padded. Pixel centres sit at integer
    coordinates in both frames. ``vam_gui.core.letterbox``.
Heatmap
    The network's output: one S x S map per keypoint, peaked where it puts the corner.
Target
    The Gaussian heatmap (sigma = 2 model px) a keypoint should produce; zero for a
    missing keypoint. ``vam_gui.model.gaussian_heatmaps``.
Prediction
    Decoded keypoints (original px), their confidence (peak value) and spread, plus the
    heatmaps and the letterbox they came from. ``vam_gui.model.Predictor``.
Annotation
    The reviewed keypoints of one image with visibility and per-point source
    (predicted / moved / placed / imported).
Study
    A set of radiographs with their predictions, annotations and review status, stored in
    one SQLite file.
"""

__version__ = "0.1.0"
