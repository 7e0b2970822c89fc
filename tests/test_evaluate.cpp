// Tests for EvalResult's per-class figures (app/engine/evaluate.h) against a confusion matrix
// worked by hand; the macro averages follow scikit-learn's (classes with a sample or a
// prediction, zero_division=0).
#include "app/engine/evaluate.h"

#include <gtest/gtest.h>

namespace zoo {
namespace {

TEST(EvalResult, PrecisionRecallF1ByHand) {
  EvalResult r;
  // true \ predicted: class 2 has no sample but is predicted once; class 3 never occurs.
  r.confusion = {{5, 1, 0, 0},
                 {2, 3, 1, 0},
                 {0, 0, 0, 0},
                 {0, 0, 0, 0}};
  EXPECT_EQ(r.predicted_count(0), 7);
  EXPECT_EQ(r.predicted_count(2), 1);
  EXPECT_EQ(r.class_count(1), 6);
  const auto p = r.per_class_precision(), rec = r.per_class_recall(), f1 = r.per_class_f1();
  ASSERT_EQ(p.size(), 4u);
  EXPECT_DOUBLE_EQ(p[0], 5.0 / 7.0);
  EXPECT_DOUBLE_EQ(p[1], 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(p[2], 0.0);
  EXPECT_DOUBLE_EQ(p[3], 0.0);
  EXPECT_DOUBLE_EQ(rec[0], 5.0 / 6.0);
  EXPECT_DOUBLE_EQ(rec[1], 0.5);
  EXPECT_DOUBLE_EQ(rec[2], 0.0);
  EXPECT_EQ(rec, r.per_class_accuracy());
  EXPECT_NEAR(f1[0], 10.0 / 13.0, 1e-12);
  EXPECT_NEAR(f1[1], 3.0 / 5.0, 1e-12);
  EXPECT_DOUBLE_EQ(f1[2], 0.0);
  // Classes 0, 1, 2 occur; class 3 is left out of the means.
  EXPECT_NEAR(r.macro_precision(), (5.0 / 7.0 + 0.75) / 3.0, 1e-12);
  EXPECT_NEAR(r.macro_recall(), 4.0 / 9.0, 1e-12);
  EXPECT_NEAR(r.macro_f1(), (10.0 / 13.0 + 0.6) / 3.0, 1e-12);
}

TEST(EvalResult, PerfectAndEmpty) {
  EvalResult r;
  r.confusion = {{4, 0}, {0, 2}};
  EXPECT_DOUBLE_EQ(r.macro_precision(), 1.0);
  EXPECT_DOUBLE_EQ(r.macro_f1(), 1.0);
  r.confusion = {{0, 0}, {0, 0}};
  EXPECT_DOUBLE_EQ(r.macro_recall(), 0.0);
}

}  // namespace
}  // namespace zoo
