/// A list cut into pages on the server (`?page=N`, the first is 1): a page never holds more than
/// `Dashboard.pageSize` rows however large the estate.
struct Pager<Item> {
    let items: ArraySlice<Item>
    let page: Int
    let pages: Int
    let total: Int

    init(_ all: [Item], page requested: String?, size: Int = Dashboard.pageSize) {
        total = all.count
        pages = max(1, (all.count + size - 1) / size)
        page = min(max(1, requested.flatMap(Int.init) ?? 1), pages)
        items = all[min(all.count, (page - 1) * size)..<min(all.count, page * size)]
    }

    /// "Rows 51–100 of 1,000" with links to the pages before and after (none for one page).
    func navigation(_ path: String) -> HTML {
        guard pages > 1 else { return .empty }
        let first = (page - 1) * Dashboard.pageSize + 1
        let previous: HTML? = page > 1 ? "<a href=\"\(path)?page=\(page - 1)\" rel=\"prev\">Previous</a>" : nil
        let next: HTML? = page < pages ? "<a href=\"\(path)?page=\(page + 1)\" rel=\"next\">Next</a>" : nil
        return """
            <nav class="pager" aria-label="Pages">\(previous)<span>Rows \(first)–\(first + items.count - 1) of \(total), \
            page \(page) of \(pages)</span>\(next)</nav>
            """
    }
}
