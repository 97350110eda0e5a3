"""Meshes: one "data" axis over this process's devices, or over the devices given."""

import jax

from stylejax.runtime.meshes import local_mesh


def test_the_local_mesh_spans_every_local_device_on_one_data_axis():
    mesh = local_mesh()
    assert mesh.axis_names == ("data",)
    assert list(mesh.devices.flat) == jax.local_devices() and len(jax.local_devices()) == 4


def test_a_mesh_over_given_devices_holds_those_alone_in_order():
    devices = jax.local_devices()[2:0:-1]
    mesh = local_mesh(devices)
    assert mesh.shape == {"data": 2} and list(mesh.devices.flat) == devices
