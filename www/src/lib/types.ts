// The types a package user sees: what the core returns (generated from the Rust types,
// shared/core-types.ts) and what the calls take.

export type {
  AnalyzeFailure,
  AnalyzeResult,
  BuildChoice,
  ExportFormat,
  ExportResult,
  LayerProbe,
  LayerRequest,
  LoadedBuild,
  SummaryFailure,
  SummaryRow,
} from "../shared/api";
export type { AutoReport, Mix, Objective, FrontPoint } from "../shared/auto";
export type { SchemeFamily, SchemeForm } from "../shared/schemes";
export type { DataInfo, EpochPoint, Method, ModelKind, TrainConfig, TrainResult } from "../shared/train";
export type {
  BuildInfo,
  ExportReport,
  LayerReport,
  ModelInfo,
  TensorInfo,
  TensorReport,
  TensorSummary,
} from "../shared/types";
export type { GraphInfo, NodeRow, OutputRow, OutputValues, RunReport } from "../shared/wholeModel";
export type { AutoOptions, AutoResult, RunOptions, TrainDataSource, TrainOptions } from "./lab";
