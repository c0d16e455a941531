import ConvictionCore
import ConvictionStore
import Foundation

extension S3ObjectStore {
    /// Ranged GETs of `chunkSize` bytes, each pinned to the ETag the first HEAD saw (`If-Match`), so
    /// an object replaced mid-read fails instead of mixing two versions; a full-object checksum is
    /// checked over the pieces at the end.
    public func reader(_ key: String, chunkSize: Int) async throws -> any ObjectReader {
        try ObjectKey.validate(key)
        let head = try await client.send("HEAD", path: path(key), headers: [("x-amz-checksum-mode", "ENABLED")], expecting: [404])
        guard head.status != 404 else { throw StoreError(key: key, message: "no such object in \(location)", code: .missingInput) }
        guard let size = head.header("content-length").flatMap(Int.init) else {
            throw StoreError(key: key, message: "S3 gave no Content-Length for the object")
        }
        let crc = head.header("x-amz-checksum-crc32c").flatMap { $0.contains("-") ? nil : $0 }
        return Reader(store: self, key: key, size: size, etag: head.header("etag"), crc32c: crc, chunkSize: max(1, chunkSize))
    }

    final class Reader: ObjectReader {
        let store: S3ObjectStore, key: String, etag: String?, expected: String?, chunkSize: Int
        let size: Int?
        var offset = 0, crc: UInt32 = 0

        init(store: S3ObjectStore, key: String, size: Int, etag: String?, crc32c: String?, chunkSize: Int) {
            self.store = store; self.key = key; self.size = size; self.etag = etag; expected = crc32c; self.chunkSize = chunkSize
        }

        func read() async throws -> Data? {
            guard let size, offset < size else { return nil }
            let last = min(size, offset + chunkSize) - 1
            var headers = [("range", "bytes=\(offset)-\(last)")]
            if let etag { headers.append(("if-match", etag)) }
            let response = try await store.client.send("GET", path: store.path(key), headers: headers, expecting: [404, 412])
            guard response.status != 404, response.status != 412 else {
                throw StoreError(key: key, message: "the object changed or went away while it was read (HTTP \(response.status)); read it again")
            }
            guard response.body.count == last - offset + 1 else {
                throw StoreError(key: key, message: "S3 returned \(response.body.count) bytes for range \(offset)-\(last)")
            }
            offset += response.body.count
            if let expected {
                crc = CRC32C.update(crc, response.body)
                if offset == size, S3Checksum.base64(crc) != expected {
                    throw StoreError(key: key, message: "integrity check failed: the body's crc32c is \(S3Checksum.base64(crc)), S3 stored \(expected)")
                }
            }
            return response.body
        }
    }

    /// Small objects go up in one PUT at commit; once more than `multipartThreshold` bytes are
    /// written, a multipart upload starts and each `partSize` bytes go up as a part, so at most
    /// one part is held. Parts and the whole carry CRC32Cs; an abort deletes the upload's parts.
    public func writer(_ key: String) async throws -> any ObjectWriter {
        try ObjectKey.validate(key)
        return Writer(store: self, key: key)
    }

    final class Writer: ObjectWriter {
        let store: S3ObjectStore, key: String
        var buffer = Data()
        var uploadID: String?
        var parts: [(number: Int, etag: String, crc32c: String)] = []
        var crc: UInt32 = 0

        init(store: S3ObjectStore, key: String) { self.store = store; self.key = key }

        func write(_ data: Data) async throws {
            buffer.append(data)
            if uploadID == nil && buffer.count <= store.multipartThreshold { return }
            if uploadID == nil { try await start() }
            while buffer.count >= store.partSize {
                try await upload(buffer.prefix(store.partSize))
                buffer.removeFirst(store.partSize)
            }
        }

        func commit() async throws {
            guard let uploadID else {
                _ = try await store.client.send("PUT", path: store.path(key), headers: S3ObjectStore.integrityHeaders(buffer), body: buffer)
                return
            }
            do {
                if !buffer.isEmpty || parts.isEmpty { try await upload(buffer); buffer = Data() }
                let xml = "<CompleteMultipartUpload>" + parts.map {
                    "<Part><PartNumber>\($0.number)</PartNumber><ETag>\(XMLText.escape($0.etag))</ETag><ChecksumCRC32C>\($0.crc32c)</ChecksumCRC32C></Part>"
                }.joined() + "</CompleteMultipartUpload>"
                // S3 combines the parts' CRC32Cs and refuses the upload when they do not give the whole body's.
                let whole = S3Checksum.base64(crc)
                let done = try await store.client.send("POST", path: store.path(key), query: [("uploadId", uploadID)],
                                                       headers: [("x-amz-checksum-crc32c", whole), ("x-amz-checksum-type", "FULL_OBJECT")], body: Data(xml.utf8))
                let answer = String(decoding: done.body, as: UTF8.self)
                // S3 can answer 200 with an error in the body.
                if let code = XMLText.first("Code", in: answer) {
                    throw AWSError(code: code, message: "CompleteMultipartUpload failed for \(key)", status: done.status)
                }
                if let stored = XMLText.first("ChecksumCRC32C", in: answer), stored != whole {
                    throw StoreError(key: key, message: "S3 assembled a different object: CRC32C \(stored), the body's is \(whole)")
                }
                self.uploadID = nil
            } catch {
                await abort()
                throw error
            }
        }

        func abort() async {
            buffer = Data()
            guard let uploadID else { return }
            self.uploadID = nil
            _ = try? await store.client.send("DELETE", path: store.path(key), query: [("uploadId", uploadID)], expecting: [404])
        }

        func start() async throws {
            let started = try await store.client.send("POST", path: store.path(key), query: [("uploads", "")],
                                                      headers: [("x-amz-checksum-algorithm", "CRC32C"), ("x-amz-checksum-type", "FULL_OBJECT")])
            guard let id = XMLText.first("UploadId", in: String(decoding: started.body, as: UTF8.self)) else {
                throw StoreError(key: key, message: "S3 did not return an UploadId")
            }
            uploadID = id
        }

        func upload(_ chunk: Data) async throws {
            guard let uploadID else { return }
            let chunk = Data(chunk)
            let number = parts.count + 1
            let headers = S3ObjectStore.integrityHeaders(chunk)
            do {
                let response = try await store.client.send("PUT", path: store.path(key), query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                                           headers: headers, body: chunk)
                parts.append((number, response.header("etag") ?? "", headers[2].1))
                crc = CRC32C.update(crc, chunk)
            } catch {
                await abort()
                throw error
            }
        }
    }
}
