// The radiology viewer's viewport: Cornerstone3D (core + tools) fed by HMS's DICOMweb routes.
//
// A series' metadata comes from WADO-RS (/studies/{s}/series/{se}/metadata, one request); each
// frame is fetched as raw little-endian pixels (/instances/{i}/frames/{n}, application/octet-stream)
// by the "hms:" image loader below, which applies the rescale slope and intercept, so window
// levels are in modality units (HU for CT). Compressed files are decoded on the server, so no
// codec, worker or WebAssembly is needed in the browser. Wrapped by hms_app/components/dicom_viewer.py.
import React, { useEffect, useRef, useState } from "react";
import {
  Enums,
  RenderingEngine,
  imageLoader,
  init as initCore,
  metaData,
  utilities,
} from "@cornerstonejs/core";
import {
  AngleTool,
  Enums as ToolEnums,
  LengthTool,
  PanTool,
  StackScrollTool,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
  addTool,
  init as initTools,
  utilities as toolUtilities,
} from "@cornerstonejs/tools";

// Window presets (width, level) in Hounsfield units.
export const PRESETS = {
  soft_tissue: [400, 40],
  lung: [1500, -600],
  bone: [1800, 400],
  brain: [80, 40],
};
const TOOLS = [WindowLevelTool, PanTool, ZoomTool, StackScrollTool, LengthTool, AngleTool];
// Bindings a tool keeps when it is not on the left button: pan on the middle, zoom on the right.
const SECONDARY = {
  [PanTool.toolName]: [{ mouseButton: ToolEnums.MouseBindings.Auxiliary }],
  [ZoomTool.toolName]: [{ mouseButton: ToolEnums.MouseBindings.Secondary }],
  [StackScrollTool.toolName]: [{ mouseButton: ToolEnums.MouseBindings.Wheel }],
};
const NAMES = {
  window: WindowLevelTool.toolName,
  pan: PanTool.toolName,
  zoom: ZoomTool.toolName,
  scroll: StackScrollTool.toolName,
  length: LengthTool.toolName,
  angle: AngleTool.toolName,
};

const instances = new Map(); // imageId -> { json, frame }
let started = false;

function value(json, tag, index = 0) {
  const element = json[tag];
  return element && element.Value ? element.Value[index] : undefined;
}

function values(json, tag) {
  const element = json[tag];
  return element && element.Value ? element.Value.map(Number) : undefined;
}

function modules(type, imageId) {
  const found = instances.get(imageId);
  if (!found) return undefined;
  const json = found.json;
  const rows = value(json, "00280010");
  const columns = value(json, "00280011");
  const spacing = values(json, "00280030") || values(json, "00181164");
  const orientation = values(json, "00200037");
  const position = values(json, "00200032");
  switch (type) {
    case "generalSeriesModule":
      return {
        modality: value(json, "00080060"),
        seriesInstanceUID: value(json, "0020000E"),
        seriesNumber: value(json, "00200011"),
        studyInstanceUID: value(json, "0020000D"),
      };
    case "generalImageModule":
      return { instanceNumber: value(json, "00200013"), sopInstanceUID: value(json, "00080018") };
    case "sopCommonModule":
      return { sopClassUID: value(json, "00080016"), sopInstanceUID: value(json, "00080018") };
    case "imagePixelModule":
      return {
        samplesPerPixel: value(json, "00280002") || 1,
        photometricInterpretation: value(json, "00280004"),
        rows,
        columns,
        bitsAllocated: value(json, "00280100"),
        bitsStored: value(json, "00280101"),
        highBit: value(json, "00280102"),
        pixelRepresentation: value(json, "00280103"),
        planarConfiguration: value(json, "00280006"),
      };
    case "imagePlaneModule": {
      const rowSpacing = spacing ? spacing[0] : undefined;
      const columnSpacing = spacing ? spacing[1] : undefined;
      return {
        frameOfReferenceUID: value(json, "00200052"),
        rows,
        columns,
        imageOrientationPatient: orientation,
        rowCosines: orientation ? orientation.slice(0, 3) : undefined,
        columnCosines: orientation ? orientation.slice(3, 6) : undefined,
        imagePositionPatient: position,
        sliceThickness: value(json, "00180050"),
        pixelSpacing: spacing,
        rowPixelSpacing: rowSpacing,
        columnPixelSpacing: columnSpacing,
      };
    }
    case "voiLutModule":
      return { windowCenter: values(json, "00281050"), windowWidth: values(json, "00281051") };
    case "modalityLutModule":
      return {
        rescaleSlope: Number(value(json, "00281053") ?? 1),
        rescaleIntercept: Number(value(json, "00281052") ?? 0),
        rescaleType: value(json, "00281054"),
      };
    case "cineModule":
      return { frameTime: value(json, "00181063") };
    case "multiframeModule":
      return { NumberOfFrames: value(json, "00280008") || 1 };
    default:
      return undefined;
  }
}

function colour(json, buffer, rows, columns) {
  const pixels = rows * columns;
  const source = new Uint8Array(buffer);
  const out = new Uint8Array(pixels * 3);
  const photometric = value(json, "00280004") || "RGB";
  if (photometric === "YBR_FULL_422" && source.length < pixels * 3) {
    for (let i = 0, o = 0; o < out.length; i += 4, o += 6) {
      const [y1, y2, cb, cr] = [source[i], source[i + 1], source[i + 2], source[i + 3]];
      out.set(ybr(y1, cb, cr), o);
      out.set(ybr(y2, cb, cr), o + 3);
    }
    return out;
  }
  const planar = value(json, "00280006") === 1;
  for (let p = 0; p < pixels; p++) {
    const a = planar ? source[p] : source[3 * p];
    const b = planar ? source[p + pixels] : source[3 * p + 1];
    const c = planar ? source[p + 2 * pixels] : source[3 * p + 2];
    out.set(photometric === "YBR_FULL" ? ybr(a, b, c) : [a, b, c], 3 * p);
  }
  return out;
}

function ybr(y, cb, cr) {
  const clamp = (v) => Math.max(0, Math.min(255, Math.round(v)));
  return [
    clamp(y + 1.402 * (cr - 128)),
    clamp(y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128)),
    clamp(y + 1.772 * (cb - 128)),
  ];
}

function grey(json, buffer) {
  const bits = value(json, "00280100") || 16;
  const signed = value(json, "00280103") === 1;
  const raw =
    bits === 8
      ? signed ? new Int8Array(buffer) : new Uint8Array(buffer)
      : bits === 32
        ? signed ? new Int32Array(buffer) : new Uint32Array(buffer)
        : signed ? new Int16Array(buffer) : new Uint16Array(buffer);
  const slope = Number(value(json, "00281053") ?? 1);
  const intercept = Number(value(json, "00281052") ?? 0);
  if (slope === 1 && intercept === 0 && (raw instanceof Uint8Array || raw instanceof Int16Array || raw instanceof Uint16Array)) {
    return raw;
  }
  // Modality units (HU): integers that fit stay 16-bit, anything else becomes float.
  const integral = Number.isInteger(slope) && Number.isInteger(intercept);
  let low = Infinity;
  let high = -Infinity;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] < low) low = raw[i];
    if (raw[i] > high) high = raw[i];
  }
  const ends = [low * slope + intercept, high * slope + intercept];
  const fits = integral && Math.min(...ends) >= -32768 && Math.max(...ends) <= 32767;
  const out = fits ? new Int16Array(raw.length) : new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw[i] * slope + intercept;
  return out;
}

function buildImage(imageId, json, buffer) {
  const rows = value(json, "00280010");
  const columns = value(json, "00280011");
  const isColour = (value(json, "00280002") || 1) === 3;
  const scalarData = isColour ? colour(json, buffer, rows, columns) : grey(json, buffer);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < scalarData.length; i++) {
    if (scalarData[i] < min) min = scalarData[i];
    if (scalarData[i] > max) max = scalarData[i];
  }
  const centre = values(json, "00281050");
  const width = values(json, "00281051");
  const spacing = values(json, "00280030") || values(json, "00181164") || [1, 1];
  const voxelManager = utilities.VoxelManager.createImageVoxelManager({
    height: rows,
    width: columns,
    numberOfComponents: isColour ? 3 : 1,
    scalarData,
    id: imageId,
  });
  return {
    imageId,
    minPixelValue: min,
    maxPixelValue: max,
    slope: 1,
    intercept: 0,
    windowCenter: isColour ? 128 : centre ? centre[0] : (max + min) / 2,
    windowWidth: isColour ? 256 : width ? width[0] : Math.max(max - min, 1),
    voiLUTFunction: undefined,
    getPixelData: () => voxelManager.getScalarData(),
    getCanvas: undefined,
    rows,
    columns,
    height: rows,
    width: columns,
    color: isColour,
    rgba: false,
    numberOfComponents: isColour ? 3 : 1,
    columnPixelSpacing: spacing[1],
    rowPixelSpacing: spacing[0],
    invert: value(json, "00280004") === "MONOCHROME1",
    photometricInterpretation: isColour ? "RGB" : value(json, "00280004"),
    sizeInBytes: scalarData.byteLength,
    dataType: scalarData.constructor.name,
    voxelManager,
    preScale: {
      enabled: true,
      scaled: true,
      scalingParameters: {
        modality: value(json, "00080060"),
        rescaleSlope: Number(value(json, "00281053") ?? 1),
        rescaleIntercept: Number(value(json, "00281052") ?? 0),
      },
    },
  };
}

function loadImage(imageId) {
  const promise = (async () => {
    const found = instances.get(imageId);
    const response = await fetch(imageId.slice("hms:".length), {
      credentials: "same-origin",
      headers: { Accept: "application/octet-stream" },
    });
    if (!response.ok) throw new Error(`frame: ${response.status}`);
    return buildImage(imageId, found.json, await response.arrayBuffer());
  })();
  return { promise };
}

function start() {
  if (started) return;
  initCore();
  initTools();
  TOOLS.forEach((tool) => addTool(tool));
  imageLoader.registerImageLoader("hms", loadImage);
  metaData.addProvider(modules, 10000);
  started = true;
}

async function seriesImageIds(base, studyUid, seriesUid) {
  const url = `${base}/studies/${studyUid}/series/${seriesUid}/metadata`;
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { Accept: "application/dicom+json" },
  });
  if (!response.ok) throw new Error(`metadata: ${response.status}`);
  const found = await response.json();
  found.sort((a, b) => (value(a, "00200013") ?? 0) - (value(b, "00200013") ?? 0));
  const imageIds = [];
  for (const json of found) {
    const sop = value(json, "00080018");
    const frames = Number(value(json, "00280008") || 1);
    for (let frame = 1; frame <= frames; frame++) {
      const imageId = `hms:${base}/studies/${studyUid}/series/${seriesUid}/instances/${sop}/frames/${frame}`;
      instances.set(imageId, { json, frame });
      imageIds.push(imageId);
    }
  }
  return imageIds;
}

let counter = 0;

export function DicomViewer({
  base = "/api/dicomweb",
  studyUid,
  seriesUid,
  tool = "window",
  preset = "",
  presetKey = 0,
  playing = false,
  fps = 0,
  resetKey = 0,
  style,
}) {
  const element = useRef(null);
  const engine = useRef(null);
  const ids = useRef(null);
  const activeTool = useRef(null);
  const [status, setStatus] = useState({ state: "starting", index: 0, count: 0, ww: 0, wc: 0, error: "" });

  // The rendering engine, its one stack viewport and the tool group live as long as the component.
  useEffect(() => {
    start();
    counter += 1;
    const names = { engine: `hms-engine-${counter}`, viewport: `hms-viewport-${counter}`, tools: `hms-tools-${counter}` };
    ids.current = names;
    const renderingEngine = new RenderingEngine(names.engine);
    renderingEngine.enableElement({
      viewportId: names.viewport,
      type: Enums.ViewportType.STACK,
      element: element.current,
      defaultOptions: { background: [0, 0, 0] },
    });
    engine.current = renderingEngine;
    const group = ToolGroupManager.createToolGroup(names.tools);
    TOOLS.forEach((t) => group.addTool(t.toolName));
    group.addViewport(names.viewport, names.engine);
    Object.entries(SECONDARY).forEach(([name, bindings]) => group.setToolActive(name, { bindings }));
    [LengthTool.toolName, AngleTool.toolName].forEach((name) => group.setToolPassive(name));
    const node = element.current;
    const refresh = () => {
      const viewport = renderingEngine.getViewport(names.viewport);
      if (!viewport || !viewport.getImageIds().length) return;
      const { voiRange } = viewport.getProperties();
      setStatus((s) => ({
        ...s,
        index: viewport.getCurrentImageIdIndex() + 1,
        count: viewport.getImageIds().length,
        ww: voiRange ? Math.round(voiRange.upper - voiRange.lower) : 0,
        wc: voiRange ? Math.round((voiRange.upper + voiRange.lower) / 2) : 0,
      }));
    };
    const events = [Enums.Events.STACK_NEW_IMAGE, Enums.Events.VOI_MODIFIED, Enums.Events.IMAGE_RENDERED];
    events.forEach((name) => node.addEventListener(name, refresh));
    const observer = new ResizeObserver(() => renderingEngine.resize(true, true));
    observer.observe(node);
    node.addEventListener("contextmenu", (event) => event.preventDefault());
    return () => {
      observer.disconnect();
      events.forEach((name) => node.removeEventListener(name, refresh));
      try {
        toolUtilities.cine.stopClip(node);
      } catch (e) {
        // nothing was playing
      }
      ToolGroupManager.destroyToolGroup(names.tools);
      renderingEngine.destroy();
    };
  }, []);

  // A series: its metadata, then its stack from the first image.
  useEffect(() => {
    if (!studyUid || !seriesUid || !engine.current) return undefined;
    let cancelled = false;
    setStatus((s) => ({ ...s, state: "loading", error: "" }));
    (async () => {
      try {
        const imageIds = await seriesImageIds(base, studyUid, seriesUid);
        if (cancelled) return;
        const viewport = engine.current.getViewport(ids.current.viewport);
        await viewport.setStack(imageIds, 0);
        viewport.resetCamera();
        viewport.render();
        if (!cancelled) setStatus((s) => ({ ...s, state: "ready", count: imageIds.length }));
      } catch (error) {
        if (!cancelled) setStatus((s) => ({ ...s, state: "error", error: String(error.message || error) }));
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [base, studyUid, seriesUid]);

  // The left button's tool.
  useEffect(() => {
    const group = ids.current && ToolGroupManager.getToolGroup(ids.current.tools);
    const name = NAMES[tool] || NAMES.window;
    if (!group || activeTool.current === name) return;
    const previous = activeTool.current;
    if (previous) {
      if (SECONDARY[previous]) group.setToolActive(previous, { bindings: SECONDARY[previous] });
      else group.setToolPassive(previous);
    }
    const bindings = [{ mouseButton: ToolEnums.MouseBindings.Primary }, ...(SECONDARY[name] || [])];
    group.setToolActive(name, { bindings });
    activeTool.current = name;
  }, [tool]);

  // A window preset (presetKey changes on every click, so the same preset can be applied again).
  useEffect(() => {
    const viewport = engine.current && engine.current.getViewport(ids.current.viewport);
    if (!viewport || !viewport.getImageIds().length || !PRESETS[preset]) return;
    const [width, level] = PRESETS[preset];
    viewport.setProperties({ voiRange: { lower: level - width / 2, upper: level + width / 2 } });
    viewport.render();
  }, [preset, presetKey]);

  // Reset: the image's own window, fit to the viewport, no pan.
  useEffect(() => {
    const viewport = engine.current && engine.current.getViewport(ids.current.viewport);
    if (!viewport || !resetKey || !viewport.getImageIds().length) return;
    viewport.resetProperties();
    viewport.resetCamera();
    viewport.render();
  }, [resetKey]);

  // Cine: play the stack (a multi-frame's frames or a series' images) at fps, looping.
  useEffect(() => {
    const node = element.current;
    if (!node || status.state !== "ready") return undefined;
    if (playing && status.count > 1) {
      const first = instances.get(engine.current.getViewport(ids.current.viewport).getImageIds()[0]);
      const frameTime = Number((first && value(first.json, "00181063")) || 0);
      const rate = fps || (frameTime ? Math.round(1000 / frameTime) : 10);
      toolUtilities.cine.playClip(node, { framesPerSecond: rate, loop: true });
    }
    return () => {
      try {
        toolUtilities.cine.stopClip(node);
      } catch (e) {
        // nothing was playing
      }
    };
  }, [playing, fps, status.state, status.count]);

  return (
    <div
      style={{ position: "relative", width: "100%", height: "100%", minHeight: "420px", background: "#000", ...style }}
    >
      <div
        ref={element}
        data-testid="dicom-viewport"
        data-state={status.state}
        data-image={status.index}
        data-images={status.count}
        data-window={`${status.ww}/${status.wc}`}
        style={{ width: "100%", height: "100%", position: "absolute", inset: 0 }}
      />
      <div
        style={{
          position: "absolute",
          left: 8,
          bottom: 6,
          color: "#e6e6e6",
          font: "12px monospace",
          pointerEvents: "none",
          textShadow: "0 0 2px #000",
        }}
      >
        {status.state === "error"
          ? `Could not load the images (${status.error})`
          : status.state === "ready"
            ? `Image ${status.index}/${status.count}   W ${status.ww}  L ${status.wc}`
            : "Loading…"}
      </div>
    </div>
  );
}
