import ConvictionAWS
import ConvictionCore
import ConvictionStore
import ConvictionTesting
import Foundation
import Testing

/// An S3 stand-in that behaves like a bucket with SSE-KMS: ETags are not the body's MD5. It checks
/// the CRC32C the client sends (with the `crc32c` package, a reference implementation), keeps it,
/// and returns it on `GET` with checksum mode on. Multipart uploads get a full-object CRC32C.
/// Keys under `corrupt/` come back with one byte flipped, as a damaged transfer would.
func kmsLikeS3Server() throws -> PythonServer {
    try PythonServer(script: #"""
    import http.server, base64, crc32c, uuid, re, urllib.parse
    objects, uploads = {}, {}
    def crc(b): return base64.b64encode(crc32c.crc32c(b).to_bytes(4, "big")).decode()
    class H(http.server.BaseHTTPRequestHandler):
        def reply(self, status, body=b"", headers=()):
            self.send_response(status)
            for k, v in headers: self.send_header(k, v)
            self.send_header("content-length", str(len(body))); self.end_headers()
            if self.command != "HEAD": self.wfile.write(body)
        def parse(self):
            u = urllib.parse.urlsplit(self.path); return u.path, dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        def body(self): return self.rfile.read(int(self.headers.get("content-length", 0)))
        def bad_digest(self): return self.reply(400, b"<Error><Code>BadDigest</Code><Message>The CRC32C you specified did not match the calculated checksum.</Message></Error>")
        def do_PUT(self):
            path, q = self.parse(); data = self.body(); sent = self.headers.get("x-amz-checksum-crc32c")
            if sent is None or sent != crc(data): return self.bad_digest()
            if "uploadId" in q:
                uploads[q["uploadId"]][int(q["partNumber"])] = data
                return self.reply(200, headers=[("etag", '"part-%s"' % uuid.uuid4().hex)])
            objects[path] = (data, sent, "kms-%s" % uuid.uuid4().hex)
            self.reply(200, headers=[("etag", '"%s"' % objects[path][2])])
        def do_POST(self):
            path, q = self.parse(); data = self.body()
            if "uploads" in q:
                if self.headers.get("x-amz-checksum-type") != "FULL_OBJECT": return self.reply(400, b"<Error><Code>InvalidRequest</Code><Message>want FULL_OBJECT</Message></Error>")
                uid = uuid.uuid4().hex; uploads[uid] = {}
                return self.reply(200, ("<InitiateMultipartUploadResult><UploadId>%s</UploadId></InitiateMultipartUploadResult>" % uid).encode())
            parts = uploads.pop(q["uploadId"]); whole = b"".join(parts[n] for n in sorted(parts))
            listed = [int(n) for n in re.findall(rb"<PartNumber>(\d+)</PartNumber>", data)]
            if listed != sorted(parts) or self.headers.get("x-amz-checksum-crc32c") != crc(whole): return self.bad_digest()
            objects[path] = (whole, crc(whole), "%s-%d" % (uuid.uuid4().hex, len(parts)))
            self.reply(200, ("<CompleteMultipartUploadResult><ETag>\"%s\"</ETag><ChecksumCRC32C>%s</ChecksumCRC32C></CompleteMultipartUploadResult>" % (objects[path][2], crc(whole))).encode())
        def do_GET(self):
            path, q = self.parse()
            if path not in objects: return self.reply(404, b"<Error><Code>NoSuchKey</Code><Message>no</Message></Error>")
            data, checksum, etag = objects[path]
            if "/corrupt/" in path: data = bytes([data[0] ^ 1]) + data[1:]
            headers = [("etag", '"%s"' % etag)]
            if self.headers.get("x-amz-checksum-mode") == "ENABLED": headers += [("x-amz-checksum-crc32c", checksum), ("x-amz-checksum-type", "FULL_OBJECT")]
            self.reply(200, data, headers)
        def do_DELETE(self): self.reply(204)
        def log_message(self, *args): pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """#)
}

@Suite(.timeLimit(.minutes(10))) struct S3IntegrityTests {
    /// Bodies of several sizes, so the slice-by-8 loop and its byte-by-byte tail both run.
    static func body(_ count: Int, seed: UInt64 = 7) -> Data {
        var rng = SeededGenerator(seed: seed)
        var data = Data(count: (count + 7) / 8 * 8)
        data.withUnsafeMutableBytes { raw in
            for i in 0..<raw.count / 8 { raw.storeBytes(of: rng.next(), toByteOffset: i * 8, as: UInt64.self) }
        }
        return data.prefix(count)
    }

    @Test func etagsThatAreNotMD5sAreAcceptedAndTheChecksumIsWhatIsChecked() async throws {
        let server = try kmsLikeS3Server()
        defer { withExtendedLifetime(server) {} }
        var store = try S3ObjectStore(bucket: "kms-bucket", prefix: "p", configuration: motoConfiguration(server.endpoint))
        store.multipartThreshold = 6 << 20
        store.partSize = 5 << 20
        // Every size checked by the server's reference CRC32C on the way up; a mismatch would be BadDigest.
        for size in [0, 1, 7, 8, 9, 1000, 65_537] {
            let data = Self.body(size, seed: UInt64(size))
            try await store.put("small/\(size).bin", data: data)
            #expect(try await store.get("small/\(size).bin") == data, "\(size) bytes")
        }
        // 13 MB: three parts, a multipart ETag, a full-object CRC32C.
        let large = Self.body(13 << 20)
        try await store.put("large.bin", data: large)
        #expect(try await store.get("large.bin") == large)
        // A body damaged on the way down is caught by the checksum, not passed on.
        try await store.put("corrupt/x.bin", data: Self.body(4096))
        await #expect { _ = try await store.get("corrupt/x.bin") } throws: { "\($0)".contains("integrity check failed") && "\($0)".contains("crc32c") }
    }

    /// Through moto_server: an object above the multipart threshold goes up in parts with a
    /// full-object CRC32C, which moto recomputes (with the `crc32c` package) and returns on GET.
    @Test func objectsAboveTheMultipartThresholdRoundTripThroughMoto() async throws {
        let endpoint = try #require(TestSupport.motoEndpoint, "needs moto_server: run through `make test`")
        var store = try S3ObjectStore(bucket: TestSupport.uniqueBucket("mpu"), prefix: "p", configuration: motoConfiguration(endpoint))
        try await store.createBucketIfNeeded()
        store.multipartThreshold = 6 << 20
        store.partSize = 5 << 20
        let large = Self.body(12 << 20 + 12_345)
        try await store.put("large.bin", data: large)
        #expect(try await store.get("large.bin") == large)
        let client = try AWSHTTPClient(configuration: motoConfiguration(endpoint), service: "s3")
        let head = try await client.send("HEAD", path: "/\(store.bucket)/p/large.bin", headers: [("x-amz-checksum-mode", "ENABLED")])
        #expect(head.header("x-amz-checksum-type") == "FULL_OBJECT")
        #expect(head.header("x-amz-checksum-crc32c") != nil && head.header("etag")?.hasSuffix("-3\"") == true, "three parts")
        let small = Self.body(100_000)
        try await store.put("small.bin", data: small)
        #expect(try await store.get("small.bin") == small)
    }
}
