#include "models/backbone.h"
#include <cstdio>

namespace slimssl::models {

std::string width_label(double width) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f", width);
  return buf;
}

void validate_widths(const std::vector<double>& widths) {
  SLIMSSL_CHECK(!widths.empty(), "widths: the width list is empty");
  for (size_t i = 0; i < widths.size(); ++i) {
    SLIMSSL_CHECK(widths[i] > 0 && widths[i] <= 1, "widths: width ", widths[i], " is outside (0, 1]");
    SLIMSSL_CHECK(i == 0 || widths[i] < widths[i - 1], "widths: the list must be strictly descending, got ",
                  widths[i - 1], " before ", widths[i]);
  }
}

Backbone::Backbone(std::vector<double> widths) : widths_(std::move(widths)) { validate_widths(widths_); }

Channels Backbone::feature_dims() const {
  Channels c;
  for (size_t i = 0; i < widths_.size(); ++i) c.push_back(feature_dim(static_cast<int>(i)));
  return c;
}

}  // namespace slimssl::models
