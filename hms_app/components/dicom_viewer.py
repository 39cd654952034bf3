"""The DICOM viewport: Cornerstone3D (core and tools) wrapped as a Reflex component.

The React side is ``assets/dicom_viewer.jsx``: it reads a series through HMS's DICOMweb routes
(``/api/dicomweb``, the signed-in user's session cookie), draws it in a stack viewport and offers
window/level, pan, zoom, scrolling, cine, and length and angle measurements. It only draws in the
browser (no server rendering: Cornerstone needs a canvas and WebGL or its CPU fallback).
"""

from __future__ import annotations

import reflex as rx

CORNERSTONE = "5.14.0"


class DicomViewer(rx.NoSSRComponent):
    """One viewport showing one series of a study."""

    library = "$/public/dicom_viewer.jsx"
    tag = "DicomViewer"
    lib_dependencies: list[str] = [
        f"@cornerstonejs/core@{CORNERSTONE}",
        f"@cornerstonejs/tools@{CORNERSTONE}",
        f"@cornerstonejs/metadata@{CORNERSTONE}",
        f"@cornerstonejs/utils@{CORNERSTONE}",
        "@kitware/vtk.js@36.4.1",
        "gl-matrix@3.4.3",
        "d3-array@3.2.4",
        "d3-interpolate@3.0.1",
    ]

    base: rx.Var[str]
    study_uid: rx.Var[str]
    series_uid: rx.Var[str]
    tool: rx.Var[str]  # the left button's tool: window | pan | zoom | scroll | length | angle
    preset: rx.Var[str]  # soft_tissue | lung | bone | brain
    preset_key: rx.Var[int]  # changes on every preset click, so the same preset applies again
    reset_key: rx.Var[int]
    playing: rx.Var[bool]
    fps: rx.Var[int]


dicom_viewer = DicomViewer.create
