"""stylejax: optimisation-based neural style transfer (Gatys et al.) in JAX.

The public API: every name below, whatever subpackage it lives in (see the docs' architecture page).
"""

from stylejax.autoencoder.settings import TransferSettings as TransferSettings
from stylejax.config import StyleConfig as StyleConfig
from stylejax.errors import StyleJaxError as StyleJaxError
from stylejax.io.images import load_image as load_image
from stylejax.io.images import save_image as save_image
from stylejax.network.function import StyleNetworkFunction as StyleNetworkFunction
from stylejax.network.function import load_network as load_network
from stylejax.network.onnx_forward import OnnxForward as OnnxForward
from stylejax.network.onnx_forward import onnx_forward as onnx_forward
from stylejax.network.refine import refine as refine
from stylejax.network.settings import TrainSettings as TrainSettings
from stylejax.network.train import train_network as train_network
from stylejax.network.transfer import OnePassTransfer as OnePassTransfer
from stylejax.network.transfer import load_transfer as load_transfer
from stylejax.network.transfer import transfer as transfer
from stylejax.nn.vgg import VGG as VGG
from stylejax.nn.vgg import extract_features as extract_features
from stylejax.nn.vgg import layer_names as layer_names
from stylejax.nn.weights import load_vgg as load_vgg
from stylejax.nn.weights import port_file as port_file
from stylejax.objective.gatys import LossWeights as LossWeights
from stylejax.objective.gatys import Objective as Objective
from stylejax.objective.gatys import ObjectiveArgs as ObjectiveArgs
from stylejax.objective.gatys import Targets as Targets
from stylejax.objective.gatys import Temporal as Temporal
from stylejax.objective.losses import content_loss as content_loss
from stylejax.objective.losses import gram as gram
from stylejax.objective.losses import style_loss as style_loss
from stylejax.objective.losses import temporal_loss as temporal_loss
from stylejax.objective.losses import total_variation as total_variation
from stylejax.objective.targets import prepare as prepare
from stylejax.optim.loop import RunState as RunState
from stylejax.optim.loop import averaged_image as averaged_image
from stylejax.optim.optimizers import make_optimizer as make_optimizer
from stylejax.solve.batch import BatchSolver as BatchSolver
from stylejax.solve.coarse_to_fine import CoarseToFineSolver as CoarseToFineSolver
from stylejax.solve.scales import Scale as Scale
from stylejax.solve.scales import plan_scales as plan_scales
from stylejax.solve.stylize import BatchResult as BatchResult
from stylejax.solve.stylize import StyleResult as StyleResult
from stylejax.solve.stylize import stylize as stylize
from stylejax.solve.stylize import stylize_batch as stylize_batch
from stylejax.solve.sweep import SweepResult as SweepResult
from stylejax.solve.sweep import sweep as sweep
from stylejax.solve.sweep import sweep_sheet as sweep_sheet
from stylejax.video.flow import temporal_error as temporal_error
from stylejax.video.flow import warp as warp
from stylejax.video.frame_solver import stylize_video as stylize_video
from stylejax.video.settings import VideoFrame as VideoFrame
from stylejax.video.settings import VideoSettings as VideoSettings

__version__ = "0.1.0"
