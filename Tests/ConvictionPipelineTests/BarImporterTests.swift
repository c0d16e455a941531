import ConvictionCore
import ConvictionPipeline
import ConvictionStore
import ConvictionTesting
import Foundation
import Testing

@Suite(.timeLimit(.minutes(10))) struct BarImporterTests {
    func importer(_ frequency: BarImporter.Frequency = .minute, symbol: String? = "AAPL") throws -> (BarImporter, LocalObjectStore) {
        let store = try LocalObjectStore(root: TestSupport.temporaryDirectory("import"))
        return (BarImporter(store: store, symbol: symbol.map(Symbol.init), frequency: frequency), store)
    }

    @Test func readsTimestampsWithZonesAndReportsProblemsByLine() async throws {
        let (importer, store) = try importer()
        let csv = """
        Timestamp,Open,High,Low,Close,Volume
        2026-01-05T09:30:00-05:00,100,101,99.5,100.5,1200
        2026-01-05 14:31:00Z,100.5,101,100,100.8,900
        2026-01-05T09:32:00-05:00,100.8,100.9,100.1,0,500
        2026-01-05T09:31:00-05:00,100.5,101,100,100.8,900
        2026-01-05T08:15:00-05:00,100,100,100,100,10
        2026-01-05T09:33:00-05:00,abc,101,99,100,10
        2026-01-05T09:34:00-05:00,100,99,98,100.5,10
        """
        let report = try await importer.importCSV(csv, source: "aapl.csv")
        #expect(report.imported == 2)
        #expect(report.rejected.count == 5)
        #expect(report.rejected[0].hasPrefix("line 4: non-positive price"))
        #expect(report.rejected[1] == "line 5: duplicate of line 3 (AAPL 2026-01-05T14:31:00.000Z)")
        #expect(report.rejected[2].hasPrefix("line 6:") && report.rejected[2].contains("08:15 New York) is outside the session"))
        #expect(report.rejected[3] == "line 7: field open: not a number (\"abc\")")
        #expect(report.rejected[4].hasPrefix("line 8: high 99.0 / low 98.0 do not bracket"))
        #expect(report.missing == ["AAPL 2026-01-05: 388 missing bar(s) (09:32, 09:33, 09:34, 09:35, 09:36, ...)"])
        #expect(report.keys == ["market/bars_1m/dt=2026-01-05/symbol=AAPL/part-0.parquet"])
        #expect(try await store.list(prefix: "raw/quarantine/import-bars/").count == 1)
    }

    @Test func readsSeparateDateAndTimeColumnsInExchangeTime() async throws {
        let (importer, store) = try importer(symbol: nil)
        let csv = "ticker,DATE,TIME,open,high,low,close,vol\nTSLA,07/01/2026,09:30,10,11,9,10.5,100\nTSLA,20260701,09:31:00,10.5,11,10,10.7,50\n"
        let report = try await importer.importCSV(csv, source: "tsla.csv")
        #expect(report.rejected.isEmpty && report.imported == 2)
        let table = try ParquetReader.decode(try await store.get(report.keys[0]), source: report.keys[0])
        guard case .timestamp(let starts)? = table.column("start")?.values else { Issue.record("no start column"); return }
        // 09:30 in July is EDT: 13:30 UTC.
        #expect(starts.first! == Timestamps.parseISO8601("2026-07-01T13:30:00Z")! * 1000)
    }

    @Test func dailyBarsAndMissingTradingDays() async throws {
        let (importer, store) = try importer(.daily)
        let csv = "date,open,high,low,close,volume\n2026-01-02,1,2,1,2,10\n2026-01-06,1,2,1,2,10\n2026-01-03,1,2,1,2,10\n"
        let report = try await importer.importCSV(csv, source: "d.csv")
        #expect(report.imported == 2)
        #expect(report.rejected == ["line 4: 2026-01-03 is not a trading day"])
        #expect(report.missing == ["AAPL: 1 missing trading day(s) (2026-01-05)"])
        #expect(try await store.list(prefix: "market/bars_1d/") == ["market/bars_1d/symbol=AAPL/part-0.parquet"])
    }

    @Test func aFileWithoutRequiredColumnsIsAClearError() async throws {
        let (importer, _) = try importer()
        await #expect { _ = try await importer.importCSV("time,price\n09:30,1\n", source: "x.csv") } throws: { "\($0)".contains("x.csv: line 1: no timestamp column") }
        await #expect { _ = try await importer.importCSV("timestamp,open,high,low,close\n", source: "y.csv") } throws: { "\($0)".contains("no volume column") }
    }
}
