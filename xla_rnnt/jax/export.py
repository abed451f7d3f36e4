"""What `jax.export` needs to serialise programs that use xla_rnnt.

jax.export refuses custom calls it does not know to be stable unless each
target is named in `disabled_checks`:

    exported = jax.export.export(jax.jit(loss),
                                 disabled_checks=xla_rnnt.jax.export_disabled_checks())(*specs)
    blob = exported.serialize(vjp_order=1)   # vjp_order=1: jax.grad of the deserialised call

The deserialising process must `import xla_rnnt.jax` (which registers the
handlers) before calling `jax.export.deserialize(blob).call(...)`.
"""

import jax

from .. import _targets

# Every custom-call target of libxla_rnnt's handler table (cc/registration.cc),
# whichever of them a program holds: the recursion's on every device, the
# fused log-softmax gather's where the losses are traced for a GPU (TF's
# backward MI_BACKWARD too), the gather-rows gradient in any gradient of
# do_rnnt_pruning: the list is the whole table. Names are the compatibility
# surface of a serialised program: a target whose operands, results or
# attributes change gets a new name.
EXPORT_TARGETS = tuple(target.name for target in _targets.TARGETS)


def export_disabled_checks():
    """[jax.export.DisabledSafetyCheck.custom_call(t) for t in EXPORT_TARGETS]:
    the `disabled_checks` argument of jax.export.export for our programs."""
    return [jax.export.DisabledSafetyCheck.custom_call(t) for t in EXPORT_TARGETS]
