#include "ssl/train/warm_start.h"
#include <filesystem>
#include <map>
#include <set>
#include "engine/autograd.h"
#include "engine/safetensors.h"
#include "ssl/train/checkpoint.h"

namespace slimssl::train {
namespace fs = std::filesystem;

namespace {

// Where a tensor of a module sits in the plain network of one width: its plain name and the
// width index whose own copy it is (0 also for weights every width shares).
struct PlainName {
  std::string name;
  int width_index = 0;
};

bool is_index(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// The plain names come from the module's own full-width export: a tensor exported under its own
// name is shared; "prefix.K.leaf" whose "prefix.leaf" is exported is width index K's own copy
// (a per-width norm). Anything else has no plain name.
std::map<std::string, PlainName> plain_names(const Encoder& enc) {
  std::set<std::string> exported;
  for (auto& [name, t] : enc.export_state(0)) exported.insert(name);
  std::map<std::string, PlainName> out;
  auto add = [&](const models::NamedTensors& named) {
    for (auto& [name, t] : named) {
      if (exported.count(name)) {
        out[name] = {name, 0};
        continue;
      }
      size_t leaf = name.rfind('.');
      size_t before = leaf == std::string::npos ? std::string::npos : name.rfind('.', leaf - 1);
      std::string index = before == std::string::npos ? "" : name.substr(before + 1, leaf - before - 1);
      if (!is_index(index)) continue;
      std::string plain = name.substr(0, before) + name.substr(leaf);
      if (exported.count(plain)) out[name] = {plain, std::stoi(index)};
    }
  };
  add(enc.named_parameters());
  add(enc.named_buffers());
  return out;
}

std::string shape_of(const Tensor& t) { return shape_str(t.shape()); }

// The leading corner of `t` with `shape`, when every dimension is at least that large.
std::optional<Tensor> leading(const Tensor& t, const Shape& shape) {
  if (t.dim() != static_cast<int64_t>(shape.size())) return std::nullopt;
  Tensor v = t;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (t.size(static_cast<int64_t>(d)) < shape[d]) return std::nullopt;
    v = v.narrow(static_cast<int64_t>(d), 0, shape[d]);
  }
  return v;
}

std::string join_list(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

std::string init_source_file(const std::string& path) {
  SLIMSSL_CHECK(fs::exists(path), "--init: '", path, "': no such file or directory");
  if (!fs::is_directory(path)) return path;
  std::string ckpt = latest_checkpoint(path);
  SLIMSSL_CHECK(!ckpt.empty(), "--init: '", path, "' is a directory without checkpoints (expected a run directory, a ",
                "checkpoint or an export)");
  return ckpt;
}

std::optional<nlohmann::json> stored_config(const std::string& file) {
  SafetensorsFile f = load_safetensors(file);
  auto it = f.metadata.find("config");
  if (it == f.metadata.end()) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(it->second, nullptr, false);
  SLIMSSL_CHECK(!j.is_discarded() && j.is_object(), "'", file, "': the config metadata is not a JSON object");
  return j;
}

nlohmann::json WarmStartReport::to_json() const {
  auto pairs = [](const std::vector<std::pair<std::string, std::string>>& v) {
    nlohmann::json out = nlohmann::json::array();
    for (auto& [t, s] : v) out.push_back({{"tensor", t}, {"from", s}});
    return out;
  };
  return {{"source", source}, {"kind", kind}, {"loaded", pairs(loaded)}, {"sliced", pairs(sliced)}, {"missing", missing},
          {"unexpected", unexpected}, {"mismatched", mismatched}, {"ignored", ignored}};
}

std::vector<std::string> WarmStartReport::lines() const {
  std::vector<std::string> out;
  out.push_back("init from " + source + " (" + kind + "): " + std::to_string(loaded.size() + sliced.size()) +
                " tensors loaded (" + std::to_string(sliced.size()) + " of them the leading channels of a wider "
                "one), " + std::to_string(missing.size()) + " missing, " + std::to_string(unexpected.size()) +
                " unexpected, " + std::to_string(mismatched.size()) + " mismatched");
  if (!missing.empty()) out.push_back("  missing (kept at their initialization): " + join_list(missing));
  if (!unexpected.empty()) out.push_back("  unexpected (in the source, not used): " + join_list(unexpected));
  if (!mismatched.empty()) out.push_back("  mismatched shapes (kept at their initialization): " + join_list(mismatched));
  if (ignored > 0)
    out.push_back("  not carried over: the source's key encoder, queue and optimizer state (" + std::to_string(ignored) +
                  " tensors); the new run starts its own");
  return out;
}

WarmStartReport warm_start(Learner& learner, const std::string& file) {
  WarmStartReport r;
  r.source = file;
  SafetensorsFile f = load_safetensors(file);
  std::optional<nlohmann::json> cfg = stored_config(file);
  r.kind = cfg ? "checkpoint" : "weights";

  // The source's tensors under the encoder's naming, and its plain full-width names.
  std::map<std::string, Tensor> source;
  std::map<std::string, std::string> source_by_plain;
  if (cfg) {
    for (size_t i = 0; i < f.names.size(); ++i) {
      if (f.names[i].rfind("query.", 0) == 0) source[f.names[i].substr(6)] = f.tensors[i];
      else ++r.ignored;
    }
    TrainConfig sc = config_from_json(*cfg, file);
    Encoder structure(sc, sc.framework == "mocov3");
    for (auto& [name, p] : plain_names(structure))
      if (p.width_index == 0 && source.count(name)) source_by_plain[p.name] = name;
  } else {
    for (size_t i = 0; i < f.names.size(); ++i) {
      source["backbone." + f.names[i]] = f.tensors[i];
      source_by_plain["backbone." + f.names[i]] = "backbone." + f.names[i];
    }
  }

  NoGradGuard ng;
  Encoder& query = learner.query();
  std::map<std::string, PlainName> target_plain = plain_names(query);
  std::set<std::string> used;
  auto visit = [&](const models::NamedTensors& named) {
    for (auto& [name, t] : named) {
      auto exact = source.find(name);
      if (exact != source.end()) {
        used.insert(name);
        if (exact->second.shape() == t.shape()) {
          t.detach().copy_(exact->second);
          r.loaded.emplace_back(name, name);
        } else {
          r.mismatched.push_back(name + ": source " + shape_of(exact->second) + ", model " + shape_of(t));
        }
        continue;
      }
      auto plain = target_plain.find(name);
      auto from = plain == target_plain.end() ? source_by_plain.end() : source_by_plain.find(plain->second.name);
      if (from == source_by_plain.end()) {
        r.missing.push_back(name);
        continue;
      }
      const Tensor& s = source.at(from->second);
      used.insert(from->second);
      std::optional<Tensor> part = plain->second.width_index == 0 ? std::nullopt : leading(s, t.shape());
      if (s.shape() == t.shape() && plain->second.width_index == 0) {
        t.detach().copy_(s);
        r.loaded.emplace_back(name, from->second);
      } else if (part) {
        t.detach().copy_(*part);
        r.sliced.emplace_back(name, from->second);
      } else {
        r.mismatched.push_back(name + ": source " + from->second + " " + shape_of(s) + ", model " + shape_of(t));
      }
    }
  };
  visit(query.named_parameters());
  visit(query.named_buffers());
  for (auto& [name, t] : source)
    if (!used.count(name)) r.unexpected.push_back(name);
  SLIMSSL_CHECK(!r.loaded.empty() || !r.sliced.empty(), "--init: no tensor of '", file, "' matches the model '",
                learner.config().model, "' (", r.unexpected.size(), " unexpected, ", r.mismatched.size(),
                " mismatched, e.g. ", r.unexpected.empty() ? (r.mismatched.empty() ? "" : r.mismatched[0]) : r.unexpected[0],
                ")");

  // The key encoder (MoCo) starts as a copy of the query, as at any run's start.
  auto state = learner.state();
  std::map<std::string, Tensor> by_name(state.begin(), state.end());
  for (auto& [name, t] : state)
    if (name.rfind("key.", 0) == 0) t.detach().copy_(by_name.at("query." + name.substr(4)));
  return r;
}

}  // namespace slimssl::train
