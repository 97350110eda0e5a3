"""stylejax: optimisation-based neural style transfer (Gatys et al.) in JAX."""

from .batch_schedule import BatchResult as BatchResult
from .batch_schedule import stylize_batch as stylize_batch
from .config import StyleConfig as StyleConfig
from .engine import prepare as prepare
from .errors import StyleJaxError as StyleJaxError
from .flow import temporal_error as temporal_error
from .flow import warp as warp
from .image_schedule import StyleResult as StyleResult
from .image_schedule import stylize as stylize
from .images import load_image as load_image
from .images import save_image as save_image
from .losses import content_loss as content_loss
from .losses import gram as gram
from .losses import style_loss as style_loss
from .losses import temporal_loss as temporal_loss
from .losses import total_variation as total_variation
from .objective import Objective as Objective
from .objective import Temporal as Temporal
from .optimize import RunState as RunState
from .optimize import averaged_image as averaged_image
from .optimize import make_optimizer as make_optimizer
from .schedule import Scale as Scale
from .schedule import plan_scales as plan_scales
from .vgg import VGG as VGG
from .vgg import layer_names as layer_names
from .video import VideoFrame as VideoFrame
from .video import VideoSettings as VideoSettings
from .video import stylize_video as stylize_video
from .weights import load_vgg as load_vgg
from .weights import port_file as port_file

__version__ = "0.1.0"
