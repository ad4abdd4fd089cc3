#pragma once

namespace m2m {
// Toolkit release and the version of the interchange formats / codec behaviour ("v":1 in JSON).
inline constexpr const char* kToolkitVersion = "0.1.0";
inline constexpr int kCodecVersion = 1;
}  // namespace m2m
