"""The devices a run trains on, for the Keras backend in use (KERAS_BACKEND, read at import).

- tensorflow: a TPU (--tpu) -> TPUStrategy; TF_CONFIG set -> MultiWorkerMirroredStrategy;
  several GPUs (or --cpu-replicas N logical CPUs, a stand-in for N GPUs) -> MirroredStrategy;
  otherwise no strategy at all, so that Keras may use XLA on one GPU;
- jax: keras.distribution.DataParallel over every local device when there are several (GPUs
  or TPU cores; --cpu-replicas needs XLA_FLAGS=--xla_force_host_platform_device_count=N set
  before the program starts);
- torch: one device (the first GPU when there is one).

XLA and steps per execution follow what Keras can take (keras-team/keras#19005 and #19246):
no XLA under a tf.distribute strategy (TPUStrategy compiles with XLA by itself), one step per
execution under MirroredStrategy and on PyTorch. Mixed precision: mixed_bfloat16 on a TPU,
mixed_float16 on GPUs of compute capability 7.0 or later, float32 otherwise.
"""

import contextlib
import json
import os
import platform
from dataclasses import dataclass, field
from importlib import metadata

import keras

BACKEND = keras.backend.backend()
TARGET = 'multi-worker'
GPU_TARGET = False
TARGET_STEPS_PER_EXECUTION = 1
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
MIN_FLOAT16_CAPABILITY = (7, 0)  # tensor cores: Volta and later


class DeviceError(RuntimeError):
    """The hardware asked for is not there, in one line."""


@dataclass
class Runtime:
    backend: str
    accelerator: str  # "CPU" | "GPU" | "TPU"
    replicas: int
    devices: list[str]
    jit_compile: bool
    steps_per_execution: int
    policy: str
    strategy: object = None  # a tf.distribute.Strategy, or None
    distribution: object = None  # a keras.distribution.Distribution, or None
    capabilities: list[tuple[int, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def strategy_name(self) -> str:
        if self.strategy is not None:
            return type(self.strategy).__name__
        if self.distribution is not None:
            return type(self.distribution).__name__
        return "none"

    def scope(self):
        """Where the model, optimizer and metrics are made."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def describe(self) -> dict:
        return {"backend": self.backend, "accelerator": self.accelerator,
                "strategy": self.strategy_name, "replicas": self.replicas,
                "devices": self.devices, "jit_compile": self.jit_compile,
                "steps_per_execution": self.steps_per_execution, "dtype_policy": self.policy,
                "compute_capabilities": [".".join(map(str, c)) for c in self.capabilities]}


def find_tpu(tpu: str):
    """A TPUClusterResolver, or None for --tpu none. 'auto' tries TPU_NAME, then the TPU of
    this VM ('local'); a TPU target that finds none fails instead of training on the CPU."""
    if tpu == "none":
        return None
    import tensorflow as tf

    resolve = tf.distribute.cluster_resolver.TPUClusterResolver
    tries = [tpu] if tpu != "auto" else ([None] if os.environ.get("TPU_NAME") else []) + ["local"]
    for name in tries:
        try:
            resolver = resolve(tpu=name)
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            return resolver
        except (ValueError, RuntimeError, tf.errors.OpError) as error:
            last = error
    if tpu != "auto" or TARGET == "tpu":
        raise DeviceError(f"no TPU found for --tpu {tpu} ({type(last).__name__}: "
                          f"{str(last).splitlines()[0] if str(last) else ''}); pass --tpu none "
                          "to train on the other devices")
    return None


def split_cpu(count: int) -> None:
    """Make `count` logical CPU devices (TensorFlow), the stand-in for several GPUs."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])


def gpu_capabilities() -> list[tuple[int, int]]:
    """Compute capability of every visible GPU, for the backend in use."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return [tuple(tf.config.experimental.get_device_details(g).get("compute_capability",
                                                                        (0, 0)))
                for g in tf.config.list_physical_devices("GPU")]
    if BACKEND == "jax":
        import jax

        return [tuple(int(p) for p in str(d.compute_capability).split("."))
                for d in jax.local_devices() if d.platform == "gpu"]
    if BACKEND == "torch":
        import torch

        return [torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())]
    return []


def tensorflow_devices(tpu: str, cpu_replicas: int) -> tuple[str, object, list[str]]:
    """(accelerator, strategy or None, device names), made before any other TensorFlow op,
    as MultiWorkerMirroredStrategy requires."""
    import tensorflow as tf

    resolver = find_tpu(tpu)
    if resolver is not None:
        strategy = tf.distribute.TPUStrategy(resolver)
        return "TPU", strategy, [d.name for d in tf.config.list_logical_devices("TPU")]
    if os.environ.get("TF_CONFIG"):
        # One all-reduce per 32 MiB of gradients instead of one per variable.
        options = tf.distribute.experimental.CommunicationOptions(bytes_per_pack=32 * 2**20)
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        patch_multi_worker_reduce(strategy)
        gpus = tf.config.list_logical_devices("GPU")
        return ("GPU" if gpus else "CPU"), strategy, [d.name for d in gpus] or ["CPU:0"]
    if cpu_replicas > 1:
        split_cpu(cpu_replicas)
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return "CPU", tf.distribute.MirroredStrategy(cpus), cpus
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if len(gpus) > 1:
        return "GPU", tf.distribute.MirroredStrategy(gpus), gpus
    return ("GPU" if gpus else "CPU"), None, gpus or ["CPU:0"]


def patch_multi_worker_reduce(strategy) -> None:
    """Keras 3's fit reduces a whole (x, y) batch and 0-d logs with `strategy.reduce(...,
    axis=0)`, which MultiWorkerMirroredStrategy rejects (keras-team/keras#20585); reduce each
    tensor on its own, 0-d ones without an axis."""
    import tensorflow as tf

    reduce = strategy.reduce

    def reduce_each(reduce_op, value, axis=None):
        def one(tensor):
            rank = strategy.experimental_local_results(tensor)[0].shape.rank
            return reduce(reduce_op, tensor, axis=axis if rank else None)

        return tf.nest.map_structure(one, value)

    strategy.reduce = reduce_each


def jax_devices(tpu: str) -> tuple[str, object, list[str]]:
    devices = keras.distribution.list_devices()
    kind = devices[0].split(":")[0].upper()
    if tpu != "none" and kind != "TPU" and (tpu != "auto" or TARGET == "tpu"):
        raise DeviceError(f"no TPU found (JAX sees {', '.join(devices)}); pass --tpu none to "
                          "train on these devices")
    distribution = None
    if len(devices) > 1:
        distribution = keras.distribution.DataParallel(devices=devices)
        keras.distribution.set_distribution(distribution)
    return kind, distribution, devices


def torch_devices() -> tuple[str, object, list[str]]:
    import torch

    return ("GPU", None, ["cuda:0"]) if torch.cuda.is_available() else ("CPU", None, ["cpu"])


def choose_policy(requested: str, accelerator: str,
                  capabilities: list[tuple[int, int]]) -> tuple[str, list[str]]:
    """(policy, notes): 'auto' is mixed_bfloat16 on TPU, mixed_float16 on GPUs of compute
    capability >= 7.0, float32 elsewhere."""
    if requested != "auto":
        return requested, []
    if accelerator == "TPU":
        return "mixed_bfloat16", []
    if accelerator == "GPU":
        if capabilities and min(capabilities) < MIN_FLOAT16_CAPABILITY:
            return "float32", [f"compute capability {min(capabilities)} < 7.0: float32, not "
                               "mixed_float16 (no tensor cores)"]
        return "mixed_float16", []
    return "float32", []


def resolve(tpu: str, precision: str, jit_compile: bool | None,
            steps_per_execution: int | None, cpu_replicas: int = 1) -> Runtime:
    """The devices, strategy, policy, XLA and steps per execution of this run (module doc)."""
    notes = []
    if BACKEND == "tensorflow":
        accelerator, strategy, devices = tensorflow_devices(tpu, cpu_replicas)
        distribution = None
        replicas = strategy.num_replicas_in_sync if strategy is not None else 1
        auto_jit = strategy is None and accelerator == "GPU"
        takes_steps = not (strategy is not None and "Mirrored" in type(strategy).__name__)
    elif BACKEND == "jax":
        accelerator, distribution, devices = jax_devices(tpu)
        strategy, replicas = None, len(devices)
        auto_jit, takes_steps = True, True
    else:
        if tpu not in ("none", "auto") or TARGET == "tpu" and tpu == "auto":
            raise DeviceError(f"the {BACKEND} backend cannot train on a TPU here; use "
                              "KERAS_BACKEND=jax or tensorflow, or --tpu none")
        accelerator, strategy, devices = torch_devices()
        distribution, replicas = None, 1
        auto_jit, takes_steps = False, False
        if cpu_replicas > 1:
            notes.append("--cpu-replicas is ignored on PyTorch (one device)")
    if GPU_TARGET and accelerator == "CPU":
        notes.append(f"WARNING: this project targets GPUs but {BACKEND} sees none; training "
                     "on the CPU (check the CUDA driver, and the GPU build of the backend)")
    capabilities = gpu_capabilities() if accelerator == "GPU" else []
    policy, policy_notes = choose_policy(precision, accelerator, capabilities)
    wanted = TARGET_STEPS_PER_EXECUTION if takes_steps else 1
    return Runtime(
        backend=BACKEND, accelerator=accelerator, replicas=replicas, devices=devices,
        jit_compile=auto_jit if jit_compile is None else jit_compile,
        steps_per_execution=wanted if steps_per_execution is None else steps_per_execution,
        policy=policy, strategy=strategy, distribution=distribution,
        capabilities=capabilities, notes=notes + policy_notes)


def versions() -> dict:
    """Python, Keras and backend versions, for the run folder."""
    found = {"python": platform.python_version(), "keras": keras.__version__,
             "backend": BACKEND, "platform": platform.platform()}
    for package in ("tensorflow", "tensorflow-cpu", "jax", "jaxlib", "torch", "numpy"):
        with contextlib.suppress(metadata.PackageNotFoundError):  # nothing imported for it
            found[package] = metadata.version(package)
    return found


def environment_json(runtime: Runtime) -> str:
    return json.dumps({"versions": versions(), "runtime": runtime.describe()}, indent=2) + "\n"
