// Configuration files that are JSON but not a configuration, and overrides that are not text:
// refused with the file or override named, never an exception of the JSON library escaping to
// the user (both found by fuzz_config).
#include <catch2/catch.hpp>
#include <fstream>
#include "ssl/train/config.h"
#include "train_fixture.h"

using namespace slimssl;
using Catch::Contains;

TEST_CASE("a config file holding a JSON number, string or list, or an override that is not UTF-8, is refused", "[train][errors][hostile]") {
  std::string dir = testing::fresh_dir("config_hostile");
  for (std::string text : {"7", "\"epochs\"", "[1, 2]", "null"}) {
    std::string path = dir + "/c.json";
    std::ofstream(path) << text;
    INFO(text);
    CHECK_THROWS_WITH(train::load_config(path, {"batch_size=64"}), Contains(path) && Contains("must hold a JSON object"));
    CHECK_THROWS_WITH(train::load_config(path, {}), Contains(path));
  }
  // an override that is not UTF-8 (the JSON library threw when printing or saving it)
  std::ofstream(dir + "/ok.json") << "{\"epochs\": 2}";
  CHECK_THROWS_WITH(train::load_config(dir + "/ok.json", {"batch_size=6\xd2" "4"}), Contains("not valid UTF-8"));
  CHECK_THROWS_WITH(train::load_config(dir + "/ok.json", {"name=\xff"}), Contains("not valid UTF-8"));
  nlohmann::json list = nlohmann::json::array();
  CHECK_THROWS_WITH(train::apply_override(list, "epochs=2"), Contains("override 'epochs=2'"));
}

TEST_CASE("config values that would be truncated or misread are refused with the key named", "[train][errors][hostile]") {
  auto refuse = [](const std::string& kv, const std::string& key) {
    nlohmann::json j = testing::tiny_config("mocov2").to_json();
    train::apply_override(j, kv);
    INFO(kv);
    CHECK_THROWS_WITH(train::config_from_json(j, "test.json"), Contains("key '" + key + "'"));
  };
  refuse("threads=8589934593", "threads");  // would become 1 thread as an int
  refuse("threads=-2", "threads");
  refuse("head_hidden=-5", "head_hidden");
  refuse("grad_clip=-1", "grad_clip");
  refuse("image_size=100000", "image_size");  // views of 10^10 pixels
}
