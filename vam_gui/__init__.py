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
    The map between original pixels and the model input (S x S, or H x W for a film-shaped
    input): the whole image, or a crop of it, uniformly scaled to fit, centred, zero
    padded. Pixel centres sit at integer coordinates in both frames. ``vam_gui.core.letterbox``.
Pass
    One forward run of the network on a letterbox. Prediction takes two: the whole film,
    then a crop around the wanted vertebrae (``vam_gui.core.crop``).
Heatmap
    The network's output: one map per keypoint at the input's size, peaked where it puts
    the corner.
Target
    The Gaussian heatmap (sigma = 2 model px) a keypoint should produce; zero for a
    missing keypoint. ``vam_gui.model.gaussian_heatmaps``.
Prediction
    Decoded keypoints (original px), their confidence (peak value) and spread, plus the
    heatmaps and the letterbox of the pass they came from. ``vam_gui.model.Predictor``.
Annotation
    The reviewed keypoints of one image with visibility and per-point source
    (predicted / moved / placed / imported).
Study
    A set of radiographs with their predictions, annotations and review status, stored in
    one SQLite file.
Session
    One reviewer's work on an open study: the command stack (undo/redo), the current
    image, navigation and the view log; every change goes out as a typed event naming
    what changed. No Qt. ``vam_gui.session.ReviewSession``.
"""

__version__ = "0.1.0"
