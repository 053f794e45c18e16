"""Unit tests of compare.py's pure half (benchreport.py): python3 -m unittest test_benchreport"""
import unittest

import benchreport as br


def rec(server, key, run=1, **metrics):
    return {"server": server, "key": key, "run": run, "result": {"metrics": metrics}}


class SpreadTest(unittest.TestCase):
    def test_median_min_max_over_runs(self):
        self.assertEqual(br.spread([3, 1, 2]), {"median": 2, "min": 1, "max": 3, "n": 3})

    def test_even_count_takes_the_mean_of_the_middle_two(self):
        self.assertEqual(br.spread([1, 2, 3, 10])["median"], 2.5)

    def test_missing_values_are_skipped_and_nothing_is_none(self):
        self.assertEqual(br.spread([None, 4, "x"])["n"], 1)
        self.assertIsNone(br.spread([None]))

    def test_ratio_divides_medians_and_refuses_zero(self):
        self.assertEqual(br.ratio({"median": 6}, {"median": 3}), 2)
        self.assertIsNone(br.ratio(1, 0))
        self.assertIsNone(br.ratio(None, 1))


class FormatTest(unittest.TestCase):
    def test_spread_shows_the_range_only_when_runs_differ(self):
        self.assertEqual(br.fmt_spread(br.spread([10.0, 12.0, 11.0])), "11.0 (10.0–12.0)")
        self.assertEqual(br.fmt_spread(br.spread([5.0])), "5.00")
        self.assertEqual(br.fmt_spread(None), "–")

    def test_table_is_markdown(self):
        self.assertEqual(br.table(["a", "b"], [[1, 2]]), "| a | b |\n|---|---|\n| 1 | 2 |")


class HistogramTest(unittest.TestCase):
    def test_merge_adds_counts_per_edge(self):
        self.assertEqual(br.merge_buckets([[[1.0, 2], [2.0, 1]], [[2.0, 3]]]), [(1.0, 2), (2.0, 4)])

    def test_cdf_ends_at_one(self):
        self.assertEqual(br.cdf([(1.0, 1), (2.0, 3)]), [(1.0, 0.25), (2.0, 1.0)])


class TargetsTest(unittest.TestCase):
    def records(self):
        r = []
        for run, (ce, cf) in enumerate([(100, 50), (120, 60), (110, 40)], 1):
            r.append(rec("chat-engine-disk", "direct-d1", run, deliveries_per_server_cpu_sec=ce,
                         server_cpu_sec=1.0, deliveries=1000))
            r.append(rec("centrifugo", "direct-d1", run, deliveries_per_server_cpu_sec=cf))
            r.append(rec("chat-engine-disk", "direct-d1-loaded", run, server_cpu_sec=1.5, deliveries=1000))
        r.append(rec("chat-engine-disk", "idle", 1, steps=[{"conns": 15000, "server_rss_per_conn_bytes": 3 * 1024}]))
        return r

    def by_name(self, prefix):
        return next(t for t in br.targets(self.records(), br.SERVERS) if t["target"].startswith(prefix))

    def test_ratio_of_medians_against_centrifugo(self):
        t = self.by_name("direct, 1 device")
        self.assertAlmostEqual(t["value"], 110 / 50)
        self.assertTrue(t["met"])

    def test_unmeasured_target_is_neither_met_nor_missed(self):
        self.assertIsNone(self.by_name("direct, 3 device")["met"])

    def test_memory_per_connection_at_the_top_step(self):
        t = self.by_name("idle")
        self.assertEqual(t["value"], 3)
        self.assertTrue(t["met"])

    def test_cpu_per_delivery_growth_beyond_twenty_percent_is_missed(self):
        t = self.by_name("server CPU per delivery")
        self.assertAlmostEqual(t["value"], 1.5)
        self.assertFalse(t["met"])


if __name__ == "__main__":
    unittest.main()
