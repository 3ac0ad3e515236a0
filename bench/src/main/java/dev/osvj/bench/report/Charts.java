package dev.osvj.bench.report;

import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Paint;
import java.io.IOException;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.text.FieldPosition;
import java.text.NumberFormat;
import java.text.ParsePosition;
import java.util.List;
import java.util.Map;

/**
 * The report's PNG plots, drawn with JFreeChart on a headless AWT ({@code java.awt.headless=true} is set
 * before the first chart). Three kinds: a suite's ratios against the 1.0 line, the absolute numbers
 * behind one metric as bars (osvj in orange, baselines in blue), and latency distributions as
 * percentile curves (HdrHistogram style: the x axis stretches the tail, 90%, 99%, 99.9% equally spaced).
 */
final class Charts {
    static final Color OSVJ = new Color(0xE0, 0x7B, 0x39);
    static final Color BASELINE = new Color(0x3B, 0x6E, 0xA8);
    static final Color WIN = new Color(0x3C, 0x9A, 0x5F);
    static final Color LOSS = new Color(0xC4, 0x4E, 0x4E);
    private static final int WIDTH = 720;
    private static final int RATIO_WIDTH = 960;

    static {
        System.setProperty("java.awt.headless", "true");
    }

    private Charts() {
    }

    /** Whether a bar's label names osvj's side (drawn in orange). */
    static boolean isOsvj(final String label) {
        return label.startsWith("osvj") || label.startsWith("channels") || label.startsWith("tickless")
            || label.startsWith("mutex") || label.startsWith("null_call") || label.startsWith("in_kernel");
    }

    /**
     * Horizontal bars of a suite's ratio metrics, with a marker at 1.0 (parity with the baseline): green
     * where osvj is on the better side of parity, red where it is not.
     *
     * @param wins metric to whether osvj beats its baseline (same keys as {@code ratios}).
     */
    static void ratios(final String title, final Map<String, Double> ratios, final Map<String, Boolean> wins,
        final Path png) throws IOException {
        final DefaultCategoryDataset data = new DefaultCategoryDataset();
        ratios.forEach((name, v) -> data.addValue(v, "ratio", name));
        final JFreeChart chart = ChartFactory.createBarChart(title, null, "ratio (1.0 = parity)", data,
            PlotOrientation.HORIZONTAL, false, false, false);
        final CategoryPlot plot = chart.getCategoryPlot();
        style(plot);
        final List<String> names = List.copyOf(ratios.keySet());
        final BarRenderer r = new BarRenderer() {
            @Override
            public Paint getItemPaint(final int row, final int column) {
                return Boolean.TRUE.equals(wins.get(names.get(column))) ? WIN : LOSS;
            }
        };
        r.setBarPainter(new StandardBarPainter());
        r.setShadowVisible(false);
        plot.setRenderer(r);
        plot.getDomainAxis().setMaximumCategoryLabelWidthRatio(0.5f);
        plot.addRangeMarker(new ValueMarker(1.0, Color.DARK_GRAY, new BasicStroke(1.5f)));
        chart.addSubtitle(new org.jfree.chart.title.TextTitle(
            "green: osvj better than its baseline; red: worse (each metric says whether lower or higher is better)"));
        save(chart, png, RATIO_WIDTH, Math.max(240, 110 + 26 * ratios.size()));
    }

    /** Vertical bars of the absolute numbers behind one metric. */
    static void bars(final String title, final String unit, final Map<String, Double> values, final Path png)
        throws IOException {
        final DefaultCategoryDataset data = new DefaultCategoryDataset();
        values.forEach((label, v) -> data.addValue(v, unit, label));
        final JFreeChart chart = ChartFactory.createBarChart(title, null, unit, data, PlotOrientation.VERTICAL, false,
            false, false);
        final CategoryPlot plot = chart.getCategoryPlot();
        style(plot);
        final List<String> labels = List.copyOf(values.keySet());
        final BarRenderer r = new BarRenderer() {
            @Override
            public Paint getItemPaint(final int row, final int column) {
                return isOsvj(labels.get(column)) ? OSVJ : BASELINE;
            }
        };
        r.setBarPainter(new StandardBarPainter());
        r.setShadowVisible(false);
        r.setMaximumBarWidth(0.18);
        plot.setRenderer(r);
        save(chart, png, 320);
    }

    /** Percentile curves of every series of a distribution. */
    static void distribution(final String title, final SuiteResult.Distribution d, final Path png) throws IOException {
        final XYSeriesCollection data = new XYSeriesCollection();
        double maxX = 10;
        for (final Map.Entry<String, List<SuiteResult.Point>> e : d.series().entrySet()) {
            final XYSeries s = new XYSeries(e.getKey());
            for (final SuiteResult.Point p : e.getValue()) {
                if (p.percentile() >= 100) {
                    continue; // the maximum has no place on a 1/(1-p) axis
                }
                final double x = 100.0 / (100.0 - p.percentile());
                s.add(x, Math.max(p.value(), 1e-3));
                maxX = Math.max(maxX, x);
            }
            data.addSeries(s);
        }
        final JFreeChart chart = ChartFactory.createXYLineChart(title, "percentile", "latency (" + d.unit() + ")", data,
            PlotOrientation.VERTICAL, true, false, false);
        final XYPlot plot = chart.getXYPlot();
        final LogAxis x = new LogAxis("percentile");
        x.setBase(10);
        x.setTickUnit(new NumberTickUnit(1));
        x.setNumberFormatOverride(new PercentileFormat());
        x.setRange(1, maxX * 1.2);
        plot.setDomainAxis(x);
        final LogAxis y = new LogAxis("latency (" + d.unit() + ")");
        y.setBase(10);
        y.setSmallestValue(1e-3);
        y.setNumberFormatOverride(new DecimalFormat("#,##0.###"));
        plot.setRangeAxis(y);
        final XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, true);
        for (int i = 0; i < data.getSeriesCount(); i++) {
            r.setSeriesStroke(i, new BasicStroke(2f));
        }
        plot.setRenderer(r);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        save(chart, png, 380);
    }

    private static void style(final CategoryPlot plot) {
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        final BarRenderer r = (BarRenderer)plot.getRenderer();
        r.setBarPainter(new StandardBarPainter());
        r.setShadowVisible(false);
        ((NumberAxis)plot.getRangeAxis()).setAutoRangeIncludesZero(true);
    }

    private static void save(final JFreeChart chart, final Path png, final int height) throws IOException {
        save(chart, png, WIDTH, height);
    }

    private static void save(final JFreeChart chart, final Path png, final int width, final int height) throws IOException {
        chart.setBackgroundPaint(Color.WHITE);
        ChartUtils.saveChartAsPNG(png.toFile(), chart, width, height);
    }

    /** Labels x = 1/(1-p) as the percentile p: 1 -> 0%, 10 -> 90%, 100 -> 99%, 1000 -> 99.9%. */
    private static final class PercentileFormat extends NumberFormat {
        private final DecimalFormat format = new DecimalFormat("0.####");

        @Override
        public StringBuffer format(final double x, final StringBuffer to, final FieldPosition pos) {
            return to.append(format.format(100.0 - 100.0 / x)).append('%');
        }

        @Override
        public StringBuffer format(final long x, final StringBuffer to, final FieldPosition pos) {
            return format((double)x, to, pos);
        }

        @Override
        public Number parse(final String source, final ParsePosition pos) {
            return null;
        }
    }
}
